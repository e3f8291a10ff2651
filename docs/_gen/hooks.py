"""mkdocs hooks: pages generated from the code at build time, so they cannot drift from it.

A page asks for a generated part with a marker line: ``<!-- gen:cli -->`` (the `pcr` command's
reference, from its typer app), ``<!-- gen:errors -->`` (the exception tree, from `pcr_sdk`)
or ``<!-- gen:limits -->`` (the AWS limits pcr-sdk checks, from `pcr_sdk._private.wire.facts`). The
same functions are imported by `tests/test_docs_reference.py`.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable, Iterator
from typing import Any

GENERATORS: dict[str, Callable[[], str]] = {}


def generator(marker: str) -> Callable[[Callable[[], str]], Callable[[], str]]:
    """Register `function` as the text of ``<!-- gen:MARKER -->``."""

    def register(function: Callable[[], str]) -> Callable[[], str]:
        GENERATORS[marker] = function
        return function

    return register


API_MARKER = re.compile(r"^<!-- gen:api (?P<module>[\w.]+) -->$", re.MULTILINE)


def on_page_markdown(markdown: str, **_: Any) -> str:
    """Replace each ``<!-- gen:NAME -->`` line by its generated Markdown."""
    for name, function in GENERATORS.items():
        marker = f"<!-- gen:{name} -->"
        if marker in markdown:
            markdown = markdown.replace(marker, function())
    return API_MARKER.sub(lambda m: api_reference(m.group("module")), markdown)


def api_reference(module: str) -> str:
    """One mkdocstrings entry per name in `module.__all__`, classes first, in `__all__` order."""
    names = list(importlib.import_module(module).__all__)
    value = importlib.import_module(module)
    rank = {n: (0 if isinstance(getattr(value, n), type) else 1) for n in names}
    return "\n\n".join(
        f"::: {module}.{name}"
        for name in sorted(names, key=lambda n: rank[n])
        if name != "__version__"
    )


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


# -- the CLI reference -------------------------------------------------------------------------


def _commands(command: Any, path: list[str], parent: Any) -> Iterator[tuple[list[str], Any, Any]]:
    ctx = command.context_class(command, info_name=path[-1], parent=parent)
    yield path, command, ctx
    for name, sub in getattr(command, "commands", {}).items():
        if not sub.hidden:
            yield from _commands(sub, [*path, name], ctx)


@generator("cli")
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
    "MIN_PART_BYTES": "bytes of a multipart upload's part but the last; pcr-sdk's are 8 MiB",
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
    } | {"FARGATE_VCPUS", "RESERVED_ENV_PREFIX", "RESERVED_TAG_PREFIXES"}


def _value(value: object) -> str:
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


# -- the AWS stack -----------------------------------------------------------------------------


@generator("stack")
def stack_tables() -> str:
    """The parameters and outputs of the CloudFormation template `pcr infra template` prints."""
    import yaml  # type: ignore[import-untyped]  # noqa: PLC0415 - mkdocs brings PyYAML

    from pcr_sdk.infra import template_text  # noqa: PLC0415

    class Loader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML has no types
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
