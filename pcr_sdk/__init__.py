"""pcr-sdk: fan out containerized jobs on AWS Batch, JSON in and out through S3.

The seed's `JobSubmitter` is here unchanged; the services it is made of (`BatchRegistry`,
`InputStore`, `Submitter`, `Poller`) are usable on their own. Errors derive from `PcrError`.
"""

from __future__ import annotations

import logging

from pcr_sdk._private.clients import AwsClients
from pcr_sdk._private.contract import BatchLayout
from pcr_sdk._private.errors import (
    AccessDeniedError,
    AwsConnectionError,
    AwsError,
    BatchClosedError,
    BucketNotFoundError,
    InvalidBatchNameError,
    InvalidJobSpecError,
    JobNotFoundError,
    JobQueueNotFoundError,
    OutputError,
    OutputMalformedError,
    OutputNotFoundError,
    PcrError,
    PcrInputError,
    ThrottledError,
    UnknownDependencyError,
    WaitTimeoutError,
    WorkerEnvironmentError,
)
from pcr_sdk._private.facade import JobSubmitter
from pcr_sdk._private.governor import RateGovernor
from pcr_sdk._private.logs import LogReader
from pcr_sdk._private.models import (
    BatchId,
    BatchName,
    FailureKind,
    JobDefinitionSpec,
    JobResult,
    JobSpec,
    JobState,
    JobStatus,
    S3Encryption,
    SubmittedJob,
)
from pcr_sdk._private.poller import Poller, PollProgress
from pcr_sdk._private.progress import PrintProgress, ProgressReporter, SilentProgress
from pcr_sdk._private.registry import BatchRegistry
from pcr_sdk._private.store import InputStore
from pcr_sdk._private.submitter import Submitter

__version__ = "0.1.0"

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
    "BucketNotFoundError",
    "FailureKind",
    "InputStore",
    "InvalidBatchNameError",
    "InvalidJobSpecError",
    "JobDefinitionSpec",
    "JobNotFoundError",
    "JobQueueNotFoundError",
    "JobResult",
    "JobSpec",
    "JobState",
    "JobStatus",
    "JobSubmitter",
    "LogReader",
    "OutputError",
    "OutputMalformedError",
    "OutputNotFoundError",
    "PcrError",
    "PcrInputError",
    "PollProgress",
    "Poller",
    "PrintProgress",
    "ProgressReporter",
    "RateGovernor",
    "S3Encryption",
    "SilentProgress",
    "SubmittedJob",
    "Submitter",
    "ThrottledError",
    "UnknownDependencyError",
    "WaitTimeoutError",
    "WorkerEnvironmentError",
    "__version__",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())
