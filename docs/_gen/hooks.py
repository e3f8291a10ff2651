"""mkdocs hooks: pages generated from the code at build time, so they cannot drift from it.

A page asks for a generated part with a marker line: ``<!-- gen:errors -->`` (the exception
tree, from `pcr_sdk`), ``<!-- gen:limits -->`` (the AWS limits pcr-sdk checks, from
`pcr_sdk._private.wire.facts`), ``<!-- gen:checks -->`` (what the local engine refuses, from
`pcr_sdk.local._refusals`), ``<!-- gen:stack -->`` or ``<!-- gen:api MODULE [NAMES] -->``.
The `pcr` command's reference is written into docs/cli.md itself, between its
``<!-- gen:cli begin -->`` and ``<!-- gen:cli end -->`` lines, so the page is complete in the
repository too: `make cli-docs` (this file run as a script) rewrites it, and
`tests/meta/test_docs_reference.py`, which imports these functions, fails when it is out of date.
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

GENERATORS: dict[str, Callable[[], str]] = {}


def generator(marker: str) -> Callable[[Callable[[], str]], Callable[[], str]]:
    """Register `function` as the text of ``<!-- gen:MARKER -->``."""

    def register(function: Callable[[], str]) -> Callable[[], str]:
        GENERATORS[marker] = function
        return function

    return register


API_MARKER = re.compile(
    r"^<!-- gen:api (?P<module>[\w.]+)(?P<names>(?: [\w]+)*) -->$", re.MULTILINE
)


def on_page_markdown(markdown: str, **_: Any) -> str:
    """Replace each ``<!-- gen:NAME -->`` line by its generated Markdown."""
    for name, function in GENERATORS.items():
        marker = f"<!-- gen:{name} -->"
        if marker in markdown:
            markdown = markdown.replace(marker, function())
    placed: dict[str, set[str]] = {}

    def api(match: re.Match[str]) -> str:
        module = match.group("module")
        selection = match.group("names").split() or None
        return api_reference(module, selection, placed.setdefault(module, set()))

    return API_MARKER.sub(api, markdown)


def api_reference(
    module: str, selection: list[str] | None = None, placed: set[str] | None = None
) -> str:
    """mkdocstrings entries for names of `module.__all__`: all of them (classes first, in
    `__all__` order), or the `selection`: names, `errors` (the exception classes, the tree's
    order) or `rest` (the names no earlier marker of the page placed). `placed` collects the
    names placed so far."""
    value = importlib.import_module(module)
    names = [n for n in value.__all__ if n != "__version__"]
    errors = _error_order(value, names)
    placed = set() if placed is None else placed
    chosen: list[str] = []
    for item in selection or ["rest"]:
        if item == "errors":
            chosen += [n for n in errors if n not in placed]
        elif item == "rest":
            rank = {n: (0 if isinstance(getattr(value, n), type) else 1) for n in names}
            rest = [n for n in names if n not in placed and n not in chosen]
            if selection is not None:  # after the page's own sections: errors have theirs
                rest = [n for n in rest if n not in errors]
            chosen += sorted(rest, key=lambda n: rank[n])
        elif item in names:
            chosen.append(item)
        else:
            raise RuntimeError(f"gen:api {module}: {item!r} is not in its __all__")
    placed.update(chosen)
    return "\n\n".join(f"::: {module}.{name}" for name in chosen)


def _error_order(value: Any, names: list[str]) -> list[str]:
    """The exception classes among `names`, each after its base (depth first, by name)."""
    classes = {n: getattr(value, n) for n in names}
    errors = {n: c for n, c in classes.items() if isinstance(c, type) and issubclass(c, Exception)}
    order: list[str] = []

    def visit(cls: type) -> None:
        for name, error in sorted(errors.items()):
            if cls in error.__bases__ and name not in order:
                order.append(name)
                visit(error)

    for name, error in sorted(errors.items()):
        if not any(base in errors.values() for base in error.__bases__) and name not in order:
            order.append(name)
            visit(error)
    return order


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


# -- the CLI reference -------------------------------------------------------------------------


CLI_PAGE = Path(__file__).resolve().parents[1] / "cli.md"
CLI_BEGIN = "<!-- gen:cli begin: `make cli-docs` writes what follows, up to the end line -->"
CLI_END = "<!-- gen:cli end -->"
_WIDE = 10_000
"""Help formatted this wide: no line is wrapped, whatever the terminal."""


def _commands(command: Any, path: list[str], parent: Any) -> Iterator[tuple[list[str], Any, Any]]:
    ctx = command.context_class(
        command, info_name=path[-1], parent=parent, terminal_width=_WIDE, max_content_width=_WIDE
    )
    yield path, command, ctx
    for name, sub in getattr(command, "commands", {}).items():
        if not sub.hidden:
            yield from _commands(sub, [*path, name], ctx)


def cli_reference() -> str:
    """Every `pcr` command: its usage, its help text and a table of its arguments and options."""
    import typer.main  # noqa: PLC0415 - the CLI extra is needed only here

    from pcr_sdk.cli._app import app  # noqa: PLC0415

    root = typer.main.get_command(app)
    out: list[str] = []
    for path, command, ctx in _commands(root, ["pcr"], None):
        out.append(f"## `{' '.join(path)}`\n")
        out.append(f"```text\n{command.get_usage(ctx)}\n```\n")
        out.append(inspect.cleandoc(command.help or "") + "\n")
        rows = [record for p in command.params if (record := p.get_help_record(ctx))]
        if rows:
            out.append("| argument or option | description |\n|---|---|")
            out.extend(f"| `{_cell(name)}` | {_cell(text)} |" for name, text in rows)
            out.append("")
    return "\n".join(out)


def cli_page(page: str) -> str:
    """`page` (docs/cli.md's text) with the reference between its markers written anew."""
    head, begin, rest = page.partition(CLI_BEGIN + "\n")
    _, end, tail = rest.partition(CLI_END)
    if not begin or not end:
        raise RuntimeError(f"{CLI_PAGE}: the lines {CLI_BEGIN!r} and {CLI_END!r} are missing")
    return f"{head}{begin}\n{cli_reference().strip()}\n\n{end}{tail}"


# -- the exception tree ------------------------------------------------------------------------


@generator("errors")
def error_tree() -> str:
    """The exception classes `pcr_sdk` exports, as a tree under `PcrError`, with their docs."""
    import pcr_sdk  # noqa: PLC0415

    public = {getattr(pcr_sdk, name) for name in pcr_sdk.__all__}
    classes = [c for c in public if isinstance(c, type) and issubclass(c, BaseException)]

    def first_line(cls: type) -> str:
        return (inspect.getdoc(cls) or "").split("\n\n")[0].replace("\n", " ")

    def also(cls: type) -> str:
        others = [
            b.__name__
            for b in cls.__bases__
            if b.__module__ == "builtins" and b not in (Exception, BaseException)
        ]
        return f" (also a `{'`, `'.join(others)}`)" if others else ""

    def tree(cls: type, depth: int) -> Iterator[str]:
        yield f"{'    ' * depth}- **`{cls.__name__}`**{also(cls)}: {first_line(cls)}"
        subclasses: list[type] = sorted(cls.__subclasses__(), key=lambda c: c.__name__)
        for sub in subclasses:
            if sub in classes:
                yield from tree(sub, depth + 1)

    lines = list(tree(pcr_sdk.PcrError, 0))
    outside = sorted((c for c in classes if not issubclass(c, pcr_sdk.PcrError)),
                     key=lambda c: c.__name__)  # fmt: skip
    if outside:
        lines.append("\nOutside the tree, on purpose:\n")
        lines.extend(f"- **`{c.__name__}`**{also(c)}: {first_line(c)}" for c in outside)
    return "\n".join(lines)


# -- the AWS limits ----------------------------------------------------------------------------

LIMITS: dict[str, tuple[str, str]] = {
    # constant in _private.wire.facts: (what it limits, the error pcr-sdk raises before a call)
    "MAX_SUBMIT_PAYLOAD_BYTES": ("bytes in one SubmitJob request", "InvalidJobSpecError"),
    "MAX_CONTAINER_OVERRIDES_CHARS": (
        "characters of a job's container overrides (ECS's limit)",
        "InvalidJobSpecError",
    ),
    "MAX_DEPENDENCIES": ("dependencies of one job", "InvalidJobSpecError"),
    "MIN_ARRAY_SIZE": ("children of one array job, at least", "InvalidJobSpecError"),
    "MAX_ARRAY_SIZE": (
        "children of one array job (`submit_jobs` splits larger inputs into arrays of this size)",
        "InvalidJobSpecError",
    ),
    "MIN_TIMEOUT_SECONDS": ("a job's attempt timeout, at least", "InvalidJobSpecError"),
    "MAX_RETRY_ATTEMPTS": (
        "attempts of a job (`retry_attempts`, `RetryPolicy`)",
        "InvalidJobSpecError",
    ),
    "MAX_EVALUATE_ON_EXIT_RULES": (
        "`evaluateOnExit` rules of a retry policy",
        "InvalidJobSpecError",
    ),
    "MAX_EVALUATE_ON_EXIT_PATTERN_LENGTH": (
        "characters of a retry rule's pattern",
        "InvalidJobSpecError",
    ),
    "MAX_NAME_LENGTH": (
        "characters of a job or job definition name (pcr-sdk: the batch name's 90 characters "
        "plus the 37 of `_<uuid4>`)",
        "InvalidBatchNameError",
    ),
    "RESERVED_ENV_PREFIX": (
        "the start of an environment variable's name, reserved",
        "InvalidJobSpecError",
    ),
    "FARGATE_VCPUS": ("vCPUs of a Fargate job (and no GPU)", "InvalidJobSpecError"),
    "MAX_VCPUS": ("vCPUs of a job", "InvalidJobSpecError"),
    "MAX_GPUS": ("GPUs of a job", "InvalidJobSpecError"),
    "MIN_MEMORY_MIB": ("memory of a job in MiB, at least", "InvalidJobSpecError"),
    "MAX_MEMORY_MIB": ("memory of a job in MiB", "InvalidJobSpecError"),
    "RESERVED_TAG_PREFIXES": ("tag key prefixes, reserved", "InvalidJobSpecError"),
    "MAX_TAGS": (
        "tags of a job definition (pcr-sdk keeps 2 for its own)",
        "InvalidJobSpecError",
    ),
    "MAX_TAG_KEY_LENGTH": ("characters of a tag key", "InvalidJobSpecError"),
    "MAX_TAG_VALUE_LENGTH": ("characters of a tag value", "InvalidJobSpecError"),
    "MAX_STOP_REASON_LENGTH": (
        "characters of a CancelJob or TerminateJob reason (checked by the local backend, as AWS "
        "does)",
        "ClientException (from the backend)",
    ),
    "LOGS_MAX_REQUEST_BYTES": (
        "bytes in one CloudWatch Logs request (checked by the local backend before it reads the "
        "body)",
        "InvalidParameterException (from the backend)",
    ),
    "MAX_JOB_DEFINITION_BYTES": (
        "bytes in one RegisterJobDefinition request (checked by the local backend, as AWS does)",
        "ClientException (from the backend)",
    ),
    "FARGATE_MEMORY_MIB": (
        "memory (MiB) of a Fargate job, by its vCPUs (the local backend also takes Fargate's "
        "0.25 and 0.5 vCPUs)",
        "InvalidJobSpecError",
    ),
    "DESCRIBE_COMPUTE_ENVIRONMENTS_MAX_RESULTS": (
        "compute environments per DescribeComputeEnvironments page (checked by the local "
        "backend, as AWS does)",
        "ClientException (from the backend)",
    ),
    "FILTER_LOG_EVENTS_MAX_LIMIT": (
        "events per FilterLogEvents page (checked by the local backend, as AWS does)",
        "InvalidParameterException (from the backend)",
    ),
    "DESCRIBE_LOG_STREAMS_MAX_LIMIT": (
        "streams per DescribeLogStreams page (checked by the local backend, as AWS does)",
        "InvalidParameterException (from the backend)",
    ),
    "FILTER_LOG_EVENTS_MAX_STREAM_NAMES": (
        "stream names in one FilterLogEvents request (checked by the local backend, as AWS does)",
        "InvalidParameterException (from the backend)",
    ),
    "MAX_JOBS_IN_SUBMITTED": (
        "job entries a batch's manifest may describe, reruns included (AWS Batch's limit of "
        "jobs a queue holds in SUBMITTED); a manifest that claims more is refused unread",
        "ManifestError",
    ),
    "MAX_SINGLE_PUT_BYTES": (
        "bytes of one PutObject (a job's config.json; packed array inputs go in parts)",
        "InvalidJobSpecError",
    ),
    "MAX_OBJECT_BYTES": ("bytes of one S3 object (packed array inputs)", "InvalidJobSpecError"),
}
PACED: dict[str, str] = {
    # limits pcr-sdk never reaches: it splits or paces its requests instead of raising
    "SUBMIT_JOB_RATE_PER_SECOND": "SubmitJob calls per second per account and region; the "
    "shared `RateGovernor` sends at most 40 a second and halves its rate when throttled",
    "DESCRIBE_JOBS_MAX_IDS": "job ids per DescribeJobs call; pcr-sdk asks in chunks of this size",
    "LIST_JOBS_MAX_RESULTS": "summaries per ListJobs page (by status); pcr-sdk follows the pages",
    "LIST_JOBS_MAX_RESULTS_FILTERED": "summaries per ListJobs page with a filter",
    "DESCRIBE_JOB_DEFINITIONS_MAX_RESULTS": "definitions per DescribeJobDefinitions page",
    "GET_LOG_EVENTS_MAX_LIMIT": "events per GetLogEvents page; `LogReader.tail` reads at most "
    "this many",
    "LOGS_MAX_RESPONSE_BYTES": "bytes of events in one GetLogEvents or FilterLogEvents answer; "
    "more come on the next page",
    "MIN_PART_BYTES": "bytes of a multipart upload's part but the last; pcr-sdk's are this size",
    "MAX_PART_BYTES": "bytes of a multipart upload's part",
    "MAX_PARTS": "parts of a multipart upload; pcr-sdk's parts grow for objects over 80 GB",
}


def limit_names() -> set[str]:
    """The names in `_private.wire.facts` that are limits: every MAX_*, MIN_* and *_MAX_*."""
    from pcr_sdk._private.wire import facts  # noqa: PLC0415

    return {
        name
        for name in vars(facts)
        if name.isupper() and ("MAX_" in name or name.startswith("MIN_") or "RATE" in name)
    } | {"FARGATE_VCPUS", "FARGATE_MEMORY_MIB", "RESERVED_ENV_PREFIX", "RESERVED_TAG_PREFIXES"}


def _value(value: object) -> str:
    if isinstance(value, Mapping):
        return "; ".join(
            f"{key:g} vCPU: {sizes[0]:,}-{sizes[-1]:,}"
            + (f" by {sizes[1] - sizes[0]:,}" if len(sizes) > 1 else "")
            for key, sizes in value.items()
        )
    if isinstance(value, frozenset | set):
        return ", ".join(str(v) for v in sorted(value))
    if isinstance(value, tuple):
        return ", ".join(f"`{v}`" for v in value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"`{value}`"


@generator("limits")
def limits_table() -> str:
    """Two tables: the limits checked before any call (with the error), and the ones paced."""
    from pcr_sdk._private.wire import facts  # noqa: PLC0415

    missing = limit_names() - LIMITS.keys() - PACED.keys()
    if missing:
        raise RuntimeError(f"docs/_gen/hooks.py: describe the limits {sorted(missing)}")
    out = ["| limit | value | error |", "|---|---|---|"]
    for name, (what, error) in LIMITS.items():
        out.append(f"| {what} | {_value(getattr(facts, name))} | `{error}` |")
    out += ["", "Paced or paged, never raised:", "", "| limit | value |", "|---|---|"]
    for name, what in PACED.items():
        out.append(f"| {what} | {_value(getattr(facts, name))} |")
    return "\n".join(out)


# -- what the local engine checks ------------------------------------------------------------


def _link(url: str) -> str:
    page = url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".html").removeprefix("API_")
    return f"[{page}]({url})"


@generator("checks")
def checks_table() -> str:
    """Every check of the local engine (`pcr_sdk.local._refusals.CHECKS`), with its source."""
    from pcr_sdk.local._refusals import CHECKS  # noqa: PLC0415

    out = [
        "| check | operations | refused | answer | AWS source |",
        "|---|---|---|---|---|",
    ]
    for name, check in CHECKS.items():
        operations = (
            f"every {check.service} operation"
            if check.operations == ("*",)
            else ", ".join(check.operations)
        )
        source = "the local engine's own limit" if check.source is None else _link(check.source)
        if check.seen is not None:
            source += f"; AWS's answer [on record]({check.seen})"
        out.append(
            f"| `{name}` | {operations} | {_cell(check.refused)} | "
            f"`{check.code}`: `{_cell(check.message)}` | {source} |"
        )
    return "\n".join(out)


# -- the AWS stack -----------------------------------------------------------------------------


@generator("stack")
def stack_tables() -> str:
    """The parameters and outputs of the CloudFormation template `pcr infra template` prints."""
    import yaml  # noqa: PLC0415 - mkdocs brings PyYAML

    from pcr_sdk.infra import template_text  # noqa: PLC0415

    class Loader(yaml.SafeLoader):
        """Reads CloudFormation's short forms (`!Ref`, `!If`...) as None."""

    def intrinsic(loader: object, suffix: str, node: object) -> object:
        return None

    Loader.add_multi_constructor("!", intrinsic)
    template: dict[str, Any] = yaml.load(template_text(), Loader=Loader)  # noqa: S506
    out = ["| parameter | default | values | what it does |", "|---|---|---|---|"]
    for name, spec in template["Parameters"].items():
        allowed = ", ".join(f"`{v}`" for v in spec.get("AllowedValues", []))
        default = spec.get("Default", "")
        shown = f"`{default}`" if default != "" else "(none)"
        out.append(f"| `{name}` | {shown} | {allowed} | {_cell(spec.get('Description', ''))} |")
    out += ["", "| output | what it is |", "|---|---|"]
    for name, spec in template["Outputs"].items():
        out.append(f"| `{name}` | {_cell(spec.get('Description', ''))} |")
    return "\n".join(out)


if __name__ == "__main__":  # `make cli-docs`
    if str(CLI_PAGE.parents[1]) not in sys.path:
        sys.path.insert(0, str(CLI_PAGE.parents[1]))
    CLI_PAGE.write_text(cli_page(CLI_PAGE.read_text(encoding="utf-8")), encoding="utf-8")
