"""`pcr_sdk.__all__` is exactly the public surface, and every name in it exists."""

from __future__ import annotations

import importlib
import importlib.resources
import subprocess
import sys
import types

import pytest

import pcr_sdk

EXPECTED = {
    "AccessDeniedError", "AwsClients", "AwsConnectionError", "AwsError", "BatchClosedError",
    "BatchId", "BatchLayout", "BatchName", "BatchRegistry", "BucketNotFoundError", "InputStore",
    "InvalidBatchNameError", "InvalidJobSpecError", "JobDefinitionSpec", "JobNotFoundError",
    "JobQueueNotFoundError", "JobResult", "JobSpec", "JobState", "JobStatus", "JobSubmitter",
    "OutputError", "OutputMalformedError", "OutputNotFoundError", "PcrError", "PcrInputError",
    "PollProgress", "Poller", "PrintProgress", "ProgressReporter", "RateGovernor",
    "SilentProgress", "SubmittedJob", "Submitter", "ThrottledError", "UnknownDependencyError",
    "WaitTimeoutError", "WorkerEnvironmentError", "__version__",
    "FailureKind", "LogReader", "S3Encryption", "BatchStatus", "CredentialsError",
    "CredentialsExpiredError", "ManifestError", "ManifestVersionError", "PackError",
    "RetryPolicy", "RetryRule", "InterruptedBySignal", "handle_signals",
}  # fmt: skip


def test_all_is_exactly_the_public_surface() -> None:
    assert set(pcr_sdk.__all__) == EXPECTED
    public = {
        name
        for name, value in vars(pcr_sdk).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    } - {"annotations"}
    assert public <= EXPECTED | {"__version__"}
    for name in pcr_sdk.__all__:
        assert hasattr(pcr_sdk, name), name


def test_every_error_derives_from_the_root() -> None:
    errors = [getattr(pcr_sdk, n) for n in pcr_sdk.__all__ if n.endswith("Error")]
    assert errors
    assert all(issubclass(e, pcr_sdk.PcrError) for e in errors)


def test_worker_module_is_public_and_light() -> None:
    worker = importlib.import_module("pcr_sdk.worker")
    assert set(worker.__all__) == {"JobContext", "run"}


def test_importing_the_worker_loads_nothing_of_the_submitting_side() -> None:
    """A job's container imports `pcr_sdk.worker`: no facade, no pydantic, no CLI libraries."""
    probe = (
        "import sys, pcr_sdk.worker\n"
        "heavy = ('pydantic', 'typer', 'rich', 'moto', 'pcr_sdk._private.facade',"
        " 'pcr_sdk._private.models', 'pcr_sdk.cli._app')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"


def test_public_names_resolve_lazily_and_only_once() -> None:
    with pytest.raises(AttributeError):
        _ = pcr_sdk.NotAName
    assert pcr_sdk.JobSubmitter is pcr_sdk.JobSubmitter
    assert set(dir(pcr_sdk)) >= set(pcr_sdk.__all__)


def test_package_ships_py_typed() -> None:
    assert importlib.resources.files("pcr_sdk").joinpath("py.typed").is_file()
