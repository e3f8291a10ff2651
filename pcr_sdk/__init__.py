"""pcr-sdk: fan out containerized jobs on AWS Batch, JSON in and out through S3.

The seed's `JobSubmitter` is here unchanged, with the models of what goes in and comes out, the
errors (all derive from `PcrError`) and the services `JobSubmitter` is a thin facade over
(`BatchRegistry`, `InputStore`, `Submitter`, `Poller`, each usable on its own). The poll
internals (`JobState`, `PollProgress`, `SubmittedJob`, `ProgressReporter`) are the second tier,
`pcr_sdk.advanced`, which also gathers the services; importing a poll internal from here still
works and emits a `DeprecationWarning` naming its new home (docs/compatibility.md).

Imports are lazy (PEP 562): `import pcr_sdk.worker` in a job's container loads none of the
submitting side (facade, pydantic models, CLI).
"""

from __future__ import annotations

import importlib as _importlib
import logging as _logging
import typing as _typing
import warnings as _warnings

from pcr_sdk._version import __version__

if _typing.TYPE_CHECKING:
    from pcr_sdk._private.batch.status import BatchStatus
    from pcr_sdk._private.edge.clients import AwsClients
    from pcr_sdk._private.edge.governor import RateGovernor
    from pcr_sdk._private.errors import (
        AccessDeniedError,
        AwsConnectionError,
        AwsError,
        BatchClosedError,
        BucketNotFoundError,
        CredentialsError,
        CredentialsExpiredError,
        InvalidBatchNameError,
        InvalidJobSpecError,
        JobNotFoundError,
        JobQueueNotFoundError,
        ManifestError,
        ManifestVersionError,
        OutputError,
        OutputMalformedError,
        OutputNotFoundError,
        PackError,
        PcrError,
        PcrInputError,
        ThrottledError,
        UnknownDependencyError,
        WaitTimeoutError,
        WorkerEnvironmentError,
    )
    from pcr_sdk._private.facade import JobSubmitter
    from pcr_sdk._private.model.names import BatchId, BatchName
    from pcr_sdk._private.model.results import FailureKind, JobResult
    from pcr_sdk._private.model.retry_policy import RetryPolicy, RetryRule
    from pcr_sdk._private.model.specs import JobDefinitionSpec, JobSpec, S3Encryption
    from pcr_sdk._private.progress import PrintProgress, SilentProgress
    from pcr_sdk._private.services.logs import LogReader
    from pcr_sdk._private.services.poller import Poller
    from pcr_sdk._private.services.registry import BatchRegistry
    from pcr_sdk._private.services.store import InputStore
    from pcr_sdk._private.services.submitter import Submitter
    from pcr_sdk._private.wire.facts import JobStatus
    from pcr_sdk._private.wire.layout import BatchLayout

    # Deprecated here, at home in pcr_sdk.advanced: re-exported (`as`) so that code not yet
    # moved keeps its types under mypy's no-implicit-reexport; at run time it warns.
    from pcr_sdk.advanced import JobState as JobState
    from pcr_sdk.advanced import PollProgress as PollProgress
    from pcr_sdk.advanced import ProgressReporter as ProgressReporter
    from pcr_sdk.advanced import SubmittedJob as SubmittedJob
    from pcr_sdk.signals import InterruptedBySignal, handle_signals

_ADVANCED: _typing.Final = "pcr_sdk.advanced"
_DEPRECATED: _typing.Final[frozenset[str]] = frozenset({
    "JobState", "PollProgress", "ProgressReporter", "SubmittedJob",
})  # fmt: skip
"""Names pcr-sdk 0.1.0 exported here that now live in `pcr_sdk.advanced` (deprecated here)."""

_ERRORS: _typing.Final = "pcr_sdk._private.errors"
_NAMES: _typing.Final = "pcr_sdk._private.model.names"
_SPECS: _typing.Final = "pcr_sdk._private.model.specs"
_RESULTS: _typing.Final = "pcr_sdk._private.model.results"
_WHERE: _typing.Final[dict[str, str]] = {
    "AccessDeniedError": _ERRORS,
    "AwsClients": "pcr_sdk._private.edge.clients",
    "AwsConnectionError": _ERRORS,
    "AwsError": _ERRORS,
    "BatchClosedError": _ERRORS,
    "BatchId": _NAMES,
    "BatchLayout": "pcr_sdk._private.wire.layout",
    "BatchName": _NAMES,
    "BatchRegistry": "pcr_sdk._private.services.registry",
    "BatchStatus": "pcr_sdk._private.batch.status",
    "BucketNotFoundError": _ERRORS,
    "CredentialsError": _ERRORS,
    "CredentialsExpiredError": _ERRORS,
    "FailureKind": _RESULTS,
    "handle_signals": "pcr_sdk.signals",
    "InputStore": "pcr_sdk._private.services.store",
    "InterruptedBySignal": "pcr_sdk.signals",
    "InvalidBatchNameError": _ERRORS,
    "InvalidJobSpecError": _ERRORS,
    "JobDefinitionSpec": _SPECS,
    "JobNotFoundError": _ERRORS,
    "JobQueueNotFoundError": _ERRORS,
    "JobResult": _RESULTS,
    "JobSpec": _SPECS,
    "JobStatus": "pcr_sdk._private.wire.facts",
    "JobSubmitter": "pcr_sdk._private.facade",
    "LogReader": "pcr_sdk._private.services.logs",
    "ManifestError": _ERRORS,
    "ManifestVersionError": _ERRORS,
    "OutputError": _ERRORS,
    "OutputMalformedError": _ERRORS,
    "OutputNotFoundError": _ERRORS,
    "PackError": _ERRORS,
    "PcrError": _ERRORS,
    "PcrInputError": _ERRORS,
    "Poller": "pcr_sdk._private.services.poller",
    "PrintProgress": "pcr_sdk._private.progress",
    "RateGovernor": "pcr_sdk._private.edge.governor",
    "RetryPolicy": "pcr_sdk._private.model.retry_policy",
    "RetryRule": "pcr_sdk._private.model.retry_policy",
    "S3Encryption": _SPECS,
    "SilentProgress": "pcr_sdk._private.progress",
    "Submitter": "pcr_sdk._private.services.submitter",
    "ThrottledError": _ERRORS,
    "UnknownDependencyError": _ERRORS,
    "WaitTimeoutError": _ERRORS,
    "WorkerEnvironmentError": _ERRORS,
}

__all__ = [
    "AccessDeniedError",
    "AwsClients",
    "AwsConnectionError",
    "AwsError",
    "BatchClosedError",
    "BatchId",
    "BatchLayout",
    "BatchName",
    "BatchRegistry",
    "BatchStatus",
    "BucketNotFoundError",
    "CredentialsError",
    "CredentialsExpiredError",
    "FailureKind",
    "InputStore",
    "InterruptedBySignal",
    "InvalidBatchNameError",
    "InvalidJobSpecError",
    "JobDefinitionSpec",
    "JobNotFoundError",
    "JobQueueNotFoundError",
    "JobResult",
    "JobSpec",
    "JobStatus",
    "JobSubmitter",
    "LogReader",
    "ManifestError",
    "ManifestVersionError",
    "OutputError",
    "OutputMalformedError",
    "OutputNotFoundError",
    "PackError",
    "PcrError",
    "PcrInputError",
    "Poller",
    "PrintProgress",
    "RateGovernor",
    "RetryPolicy",
    "RetryRule",
    "S3Encryption",
    "SilentProgress",
    "Submitter",
    "ThrottledError",
    "UnknownDependencyError",
    "WaitTimeoutError",
    "WorkerEnvironmentError",
    "__version__",
    "handle_signals",
]


def __getattr__(name: str) -> _typing.Any:
    """Import a public name's module on first use (PEP 562); a deprecated name warns each time."""
    if name in _DEPRECATED:
        _warnings.warn(
            f"pcr_sdk.{name} is deprecated: import it from pcr_sdk.advanced "
            f"(from pcr_sdk.advanced import {name}); see docs/compatibility.md",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(_importlib.import_module(_ADVANCED), name)
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'pcr_sdk' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


_logging.getLogger(__name__).addHandler(_logging.NullHandler())
