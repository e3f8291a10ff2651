"""Every public name has exactly one home, the `__all__` of one public module, and names it as
its `__module__`; the first tier (`pcr_sdk`) takes and returns only first-tier types."""

from __future__ import annotations

import importlib
import importlib.resources
import inspect
import pickle
import re
import subprocess
import sys
import typing
import warnings

import pytest

import pcr_sdk

FIRST = {
    "AccessDeniedError", "AwsClients", "AwsConnectionError", "AwsError", "BatchClosedError",
    "BatchId", "BatchLayout", "BatchName", "BatchStatus", "BucketNotFoundError",
    "CredentialsError", "CredentialsExpiredError", "FailureKind", "FailureKindValue",
    "InterruptedBySignal",
    "InvalidBatchNameError", "InvalidJobSpecError", "JobDefinitionSpec", "JobInput",
    "JobNotFoundError", "JobQueueNotFoundError", "JobResult", "JobStatus", "JobSubmitter",
    "JsonValue", "ManifestError",
    "ManifestVersionError", "OutputError", "OutputMalformedError", "OutputNotFoundError",
    "PackError", "PcrError", "PcrInputError", "PollProgress", "PrintProgress",
    "ProgressReporter", "RateGovernor", "RerunLease", "RerunLeaseHeldError", "RetryPolicy",
    "RetryRule", "S3Encryption",
    "SignalGuard", "SilentProgress", "SubmittedJob", "ThrottledError", "UnknownDependencyError",
    "WaitTimeoutError", "WorkerContractError", "WorkerEnvironmentError", "__version__",
    "handle_signals",
}  # fmt: skip
"""`pcr_sdk`: JobSubmitter and BatchStatus, and what their API takes or returns."""
ADVANCED = {
    "BatchOptions", "BatchRegistry", "InputStore", "JobSpec", "JobState", "Listing", "LogReader",
    "PollRun", "Poller", "Seams", "StoredObject", "Submitter", "SubmitterOptions",
}  # fmt: skip
"""`pcr_sdk.advanced`: the services, what only they exchange, and the test seams."""
HOMES = {
    "pcr_sdk": FIRST,
    "pcr_sdk.advanced": ADVANCED,
    "pcr_sdk.worker": {"JobContext", "run"},
    "pcr_sdk.local": {
        "LocalBackend", "LocalAccount", "LocalConnection", "KeptBatch", "Holder",
        "LocalAccountError", "AccountInUseError", "AccountFormatError", "AccountConflictError",
    },
    "pcr_sdk.infra": {
        "PolicyDocument", "SDK_OPERATIONS", "STACK_OUTPUTS", "Statement", "submitter_actions",
        "submitter_policy", "template_text",
    },
}  # fmt: skip


def test_all_is_exactly_the_public_surface() -> None:
    assert set(pcr_sdk.__all__) == FIRST
    for name in pcr_sdk.__all__:
        assert hasattr(pcr_sdk, name), name


@pytest.mark.parametrize("home", sorted(HOMES))
def test_each_home_exports_exactly_its_names(home: str) -> None:
    module = importlib.import_module(home)
    assert set(module.__all__) == HOMES[home]


def test_no_name_has_two_homes() -> None:
    homes = ["pcr_sdk", "pcr_sdk.advanced", "pcr_sdk.worker", "pcr_sdk.local", "pcr_sdk.testing",
             "pcr_sdk.testing.fixtures", "pcr_sdk.report", "pcr_sdk.infra"]  # fmt: skip
    seen: dict[str, str] = {}
    for home in homes:
        for name in importlib.import_module(home).__all__:
            assert name not in seen, f"{name} is in both {seen[name]} and {home}"
            seen[name] = home


@pytest.mark.parametrize(
    "home", ["pcr_sdk", "pcr_sdk.advanced", "pcr_sdk.worker", "pcr_sdk.local", "pcr_sdk.testing",
             "pcr_sdk.report", "pcr_sdk.infra"],
)  # fmt: skip
def test_every_public_class_and_function_names_its_home_as_its_module(home: str) -> None:
    """`repr`, tracebacks and pickles say `pcr_sdk.PcrError`, as httpx's do."""
    module = importlib.import_module(home)
    for name in module.__all__:
        value = getattr(module, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert value.__module__ == home, name


def test_an_error_shows_and_pickles_under_its_home() -> None:
    assert repr(pcr_sdk.WaitTimeoutError) == "<class 'pcr_sdk.WaitTimeoutError'>"
    assert pickle.loads(pickle.dumps(pcr_sdk.JobStatus.FAILED)) is pcr_sdk.JobStatus.FAILED


@pytest.mark.parametrize(
    "cls", ["JobResult", "SubmittedJob", "PollProgress", "SignalGuard", "BatchLayout", "JobState"]
)
def test_type_hints_of_public_classes_still_resolve(cls: str) -> None:
    """`__module__` names the lazy home; the annotations were resolved where they were written."""
    home = pcr_sdk if cls in pcr_sdk.__all__ else importlib.import_module("pcr_sdk.advanced")
    hints = typing.get_type_hints(getattr(home, cls))
    assert hints


def _first_tier_annotations() -> list[tuple[str, str]]:
    """(where, annotation text) of every public method and attribute of the first tier."""
    found = []
    for name in sorted(FIRST - {"__version__"}):
        value = getattr(pcr_sdk, name)
        members = [value] if inspect.isfunction(value) else [
            m for n, m in vars(value).items() if not n.startswith("_") or n == "__init__"
        ] if inspect.isclass(value) else []  # fmt: skip
        for member in members:
            func = getattr(member, "fget", None) or getattr(member, "__func__", None) or member
            if inspect.isfunction(func):
                found += [(f"{name}.{func.__name__}", str(a))
                          for a in func.__annotations__.values()]  # fmt: skip
    return found


def test_the_first_tier_returns_no_second_tier_type() -> None:
    """A `pcr_sdk` user never meets an `advanced` type, but for the test seams (`Seams`) and
    `attach`'s pass-through options (`SubmitterOptions`)."""
    allowed = {"Seams", "SubmitterOptions"}
    leaks = [
        (where, text)
        for where, text in _first_tier_annotations()
        for name in ADVANCED - allowed
        if re.search(rf"\b{name}\b", text)
    ]
    assert not leaks


def test_the_first_tier_does_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in pcr_sdk.__all__:
            getattr(pcr_sdk, name)


def test_a_type_checker_sees_no_name_beyond_all() -> None:
    """The lazy `__getattr__` is hidden from type checkers: `from pcr_sdk import Typo` fails mypy
    instead of being `Any` (tests/typing holds the positive side)."""
    source = importlib.resources.files("pcr_sdk").joinpath("__init__.py").read_text()
    assert "if not _typing.TYPE_CHECKING:" in source.split("def __getattr__")[0]


def test_every_error_derives_from_the_root() -> None:
    errors = [getattr(pcr_sdk, n) for n in pcr_sdk.__all__ if n.endswith("Error")]
    assert errors
    assert all(issubclass(e, pcr_sdk.PcrError) for e in errors)


def test_worker_module_is_public_and_light() -> None:
    worker = importlib.import_module("pcr_sdk.worker")
    assert set(worker.__all__) == {"JobContext", "run"}


@pytest.mark.subprocess
def test_importing_the_worker_loads_nothing_of_the_submitting_side() -> None:
    """A job's container imports `pcr_sdk.worker`: no facade, no pydantic, no CLI libraries."""
    probe = (
        "import sys, pcr_sdk.worker\n"
        "heavy = ('pydantic', 'typer', 'rich', 'moto', 'pcr_sdk._private.facade',"
        " 'pcr_sdk._private.model', 'pcr_sdk.cli._app')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"


def test_public_names_resolve_lazily_and_only_once() -> None:
    with pytest.raises(AttributeError):
        _ = pcr_sdk.NotAName  # type: ignore[attr-defined]
    assert pcr_sdk.JobSubmitter is pcr_sdk.JobSubmitter
    assert set(dir(pcr_sdk)) >= set(pcr_sdk.__all__)


def test_package_ships_py_typed() -> None:
    assert importlib.resources.files("pcr_sdk").joinpath("py.typed").is_file()


def test_batch_options_are_the_settings_of_a_new_batch() -> None:
    """`BatchOptions` (what `LocalBackend.job_submitter` passes on) follows JobSubmitter's
    keywords: every one but those of where the batch runs, with the same types."""
    from pcr_sdk.advanced import BatchOptions

    where = {"batch_name", "job_queue", "container", "job_bucket", "aws_region",
             "aws_access_key_id", "aws_secret_access_key", "session", "clients"}  # fmt: skip
    init = typing.get_type_hints(pcr_sdk.JobSubmitter.__init__)
    options = typing.get_type_hints(BatchOptions)
    assert set(options) == set(init) - where - {"return"}
    assert BatchOptions.__required_keys__ == frozenset()
    for name, hint in options.items():
        assert hint == init[name], name


def test_failure_kind_values_are_the_kinds_a_rerun_takes() -> None:
    """`FailureKindValue` (the type of `kinds=`'s strings) names every kind but the one that
    follows its dependency, and nothing else."""
    values = set(typing.get_args(pcr_sdk.FailureKindValue))
    kinds = {k.value for k in pcr_sdk.FailureKind}
    assert values == kinds - {pcr_sdk.FailureKind.DEPENDENCY_FAILED.value}
