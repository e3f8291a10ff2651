"""pcr-sdk: fan out containerized jobs on AWS Batch, JSON in and out through S3.

The seed's `JobSubmitter`, unchanged, and everything its API takes or returns: the models of
what goes in and comes out, the retry policy, the progress reporters and the errors (all derive
from `PcrError`). The services `JobSubmitter` is a facade over (`BatchRegistry`, `InputStore`,
`Submitter`, `Poller`, `LogReader`) and what only they exchange are the second tier,
`pcr_sdk.advanced`. Each public name has one home: this module, `pcr_sdk.advanced`,
`pcr_sdk.worker`, `pcr_sdk.local`, `pcr_sdk.testing`, `pcr_sdk.report` or `pcr_sdk.infra`.

Imports are lazy (PEP 562): `import pcr_sdk.worker` in a job's container loads none of the
submitting side (facade, pydantic models, CLI).
"""

from __future__ import annotations

import logging as _logging
import typing as _typing

from pcr_sdk._private.public import lazy_names as _lazy_names
from pcr_sdk._version import __version__

if _typing.TYPE_CHECKING:
    from pcr_sdk._private.batch.lease import RerunLease
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
        RerunLeaseHeldError,
        ThrottledError,
        UnknownDependencyError,
        WaitTimeoutError,
        WorkerContractError,
        WorkerEnvironmentError,
    )
    from pcr_sdk._private.facade import JobSubmitter
    from pcr_sdk._private.model.names import BatchId, BatchName
    from pcr_sdk._private.model.results import (
        FailureKind,
        FailureKindValue,
        JobResult,
        SubmittedJob,
    )
    from pcr_sdk._private.model.retry_policy import RetryPolicy, RetryRule
    from pcr_sdk._private.model.specs import JobDefinitionSpec, JobInput, S3Encryption
    from pcr_sdk._private.progress import PrintProgress, ProgressReporter, SilentProgress
    from pcr_sdk._private.services.poll_run import PollProgress
    from pcr_sdk._private.signals import InterruptedBySignal, SignalGuard, handle_signals
    from pcr_sdk._private.wire.facts import JobStatus
    from pcr_sdk._private.wire.jsonio import JsonValue
    from pcr_sdk._private.wire.layout import BatchLayout

_ERRORS: _typing.Final = "pcr_sdk._private.errors"
_WHERE: _typing.Final[dict[str, str]] = {
    "AccessDeniedError": _ERRORS,
    "AwsClients": "pcr_sdk._private.edge.clients",
    "AwsConnectionError": _ERRORS,
    "AwsError": _ERRORS,
    "BatchClosedError": _ERRORS,
    "BatchId": "pcr_sdk._private.model.names",
    "BatchLayout": "pcr_sdk._private.wire.layout",
    "BatchName": "pcr_sdk._private.model.names",
    "BatchStatus": "pcr_sdk._private.batch.status",
    "BucketNotFoundError": _ERRORS,
    "CredentialsError": _ERRORS,
    "CredentialsExpiredError": _ERRORS,
    "FailureKind": "pcr_sdk._private.model.results",
    "FailureKindValue": "pcr_sdk._private.model.results",
    "handle_signals": "pcr_sdk._private.signals",
    "InterruptedBySignal": "pcr_sdk._private.signals",
    "InvalidBatchNameError": _ERRORS,
    "InvalidJobSpecError": _ERRORS,
    "JobDefinitionSpec": "pcr_sdk._private.model.specs",
    "JobInput": "pcr_sdk._private.model.specs",
    "JobNotFoundError": _ERRORS,
    "JobQueueNotFoundError": _ERRORS,
    "JobResult": "pcr_sdk._private.model.results",
    "JobStatus": "pcr_sdk._private.wire.facts",
    "JobSubmitter": "pcr_sdk._private.facade",
    "JsonValue": "pcr_sdk._private.wire.jsonio",
    "ManifestError": _ERRORS,
    "ManifestVersionError": _ERRORS,
    "OutputError": _ERRORS,
    "OutputMalformedError": _ERRORS,
    "OutputNotFoundError": _ERRORS,
    "PackError": _ERRORS,
    "PcrError": _ERRORS,
    "PcrInputError": _ERRORS,
    "PollProgress": "pcr_sdk._private.services.poll_run",
    "PrintProgress": "pcr_sdk._private.progress",
    "ProgressReporter": "pcr_sdk._private.progress",
    "RateGovernor": "pcr_sdk._private.edge.governor",
    "RerunLease": "pcr_sdk._private.batch.lease",
    "RerunLeaseHeldError": _ERRORS,
    "RetryPolicy": "pcr_sdk._private.model.retry_policy",
    "RetryRule": "pcr_sdk._private.model.retry_policy",
    "S3Encryption": "pcr_sdk._private.model.specs",
    "SignalGuard": "pcr_sdk._private.signals",
    "SilentProgress": "pcr_sdk._private.progress",
    "SubmittedJob": "pcr_sdk._private.model.results",
    "ThrottledError": _ERRORS,
    "UnknownDependencyError": _ERRORS,
    "WaitTimeoutError": _ERRORS,
    "WorkerContractError": _ERRORS,
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
    "BatchStatus",
    "BucketNotFoundError",
    "CredentialsError",
    "CredentialsExpiredError",
    "FailureKind",
    "FailureKindValue",
    "InterruptedBySignal",
    "InvalidBatchNameError",
    "InvalidJobSpecError",
    "JobDefinitionSpec",
    "JobInput",
    "JobNotFoundError",
    "JobQueueNotFoundError",
    "JobResult",
    "JobStatus",
    "JobSubmitter",
    "JsonValue",
    "ManifestError",
    "ManifestVersionError",
    "OutputError",
    "OutputMalformedError",
    "OutputNotFoundError",
    "PackError",
    "PcrError",
    "PcrInputError",
    "PollProgress",
    "PrintProgress",
    "ProgressReporter",
    "RateGovernor",
    "RerunLease",
    "RerunLeaseHeldError",
    "RetryPolicy",
    "RetryRule",
    "S3Encryption",
    "SignalGuard",
    "SilentProgress",
    "SubmittedJob",
    "ThrottledError",
    "UnknownDependencyError",
    "WaitTimeoutError",
    "WorkerContractError",
    "WorkerEnvironmentError",
    "__version__",
    "handle_signals",
]


if not _typing.TYPE_CHECKING:  # type checkers see the imports above, and no other name
    __getattr__ = _lazy_names(__name__, _WHERE)


def __dir__() -> list[str]:
    return sorted(__all__)


_logging.getLogger(__name__).addHandler(_logging.NullHandler())
