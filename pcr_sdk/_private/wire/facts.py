"""AWS facts pcr-sdk relies on, in one place: limits, names, tags, reason strings, error codes.

Models, services, the local engine and `pcr_sdk.testing` all read them from here, so a limit
or a reason string cannot differ between the SDK and the backends that emulate AWS Batch.
Sources: the AWS Batch user guide and API reference, S3 and CloudWatch Logs API references.
This module imports nothing but the standard library: the worker and the engine use it.
"""

from __future__ import annotations

import enum
from types import MappingProxyType
from typing import Final

from pcr_sdk._private.public import public

# -- AWS Batch: statuses ---------------------------------------------------------------------


@public("pcr_sdk")
class JobStatus(str, enum.Enum):
    """A job's status: AWS Batch's seven, in their order, plus pcr-sdk's EXPIRED.

    EXPIRED is never sent by AWS: pcr-sdk gives it to a job that AWS Batch no longer returns
    (it keeps finished jobs about a day) so that a wait on an old batch ends.
    """

    SUBMITTED = "SUBMITTED"
    PENDING = "PENDING"
    RUNNABLE = "RUNNABLE"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"

    @property
    def is_finished(self) -> bool:
        """SUCCEEDED, FAILED or EXPIRED: nothing about the job changes any more."""
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.EXPIRED)


BATCH_STATUSES: Final = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED",
                         "FAILED")  # fmt: skip
"""The statuses AWS Batch itself reports, in their order."""
FINISHED_STATUSES: Final = frozenset({"SUCCEEDED", "FAILED"})
CANCELLABLE_STATUSES: Final = frozenset({"SUBMITTED", "PENDING", "RUNNABLE"})
"""CancelJob stops these; TerminateJob also STARTING and RUNNING."""

# -- AWS Batch: request limits ---------------------------------------------------------------

DESCRIBE_JOBS_MAX_IDS: Final = 100
LIST_JOBS_MAX_RESULTS_FILTERED: Final = 100
"""ListJobs pages with `filters` hold at most 100 summaries."""
LIST_JOBS_MAX_RESULTS: Final = 1000
"""ListJobs pages with `jobStatus` (or neither) hold at most 1000 summaries."""
DESCRIBE_JOB_DEFINITIONS_MAX_RESULTS: Final = 100
DESCRIBE_COMPUTE_ENVIRONMENTS_MAX_RESULTS: Final = 100
SUBMIT_JOB_RATE_PER_SECOND: Final = 50
"""SubmitJob quota per account and region; not raisable."""
MAX_SUBMIT_PAYLOAD_BYTES: Final = 30 * 1024
MAX_JOB_DEFINITION_BYTES: Final = 24 * 1024
"""The largest RegisterJobDefinition request (service quotas: "Maximum job definition size")."""
MAX_CONTAINER_OVERRIDES_CHARS: Final = 8192
"""ECS's limit: longer overrides fail the job with 'Container Overrides length must be ...'."""
MAX_DEPENDENCIES: Final = 20
MIN_ARRAY_SIZE: Final = 2
MAX_ARRAY_SIZE: Final = 10_000
MIN_TIMEOUT_SECONDS: Final = 60
MAX_RETRY_ATTEMPTS: Final = 10
MAX_EVALUATE_ON_EXIT_RULES: Final = 5
MAX_NAME_LENGTH: Final = 128
"""Job names and job definition names."""
RESERVED_ENV_PREFIX: Final = "AWS_BATCH"
"""Environment variable names may not start with it."""
FARGATE_MEMORY_MIB: Final = MappingProxyType(
    {
        0.25: (512, 1024, 2048),
        0.5: (1024, 2048, 3072, 4096),
        1.0: tuple(range(2048, 8192 + 1, 1024)),
        2.0: tuple(range(4096, 16384 + 1, 1024)),
        4.0: tuple(range(8192, 30720 + 1, 1024)),
        8.0: tuple(range(16384, 61440 + 1, 4096)),
        16.0: tuple(range(32768, 122880 + 1, 8192)),
    }
)
"""The memory (MiB) a Fargate job may ask for, by its vCPUs (ResourceRequirement's table)."""
FARGATE_VCPUS: Final = frozenset(int(vcpus) for vcpus in FARGATE_MEMORY_MIB if vcpus >= 1)
"""The whole vCPU counts a Fargate job may ask for (it also takes 0.25 and 0.5)."""
MAX_VCPUS: Final = 256
MAX_GPUS: Final = 64
MIN_MEMORY_MIB: Final = 4
MAX_MEMORY_MIB: Final = 4_194_304

MAX_JOBS_IN_SUBMITTED: Final = 1_000_000
"""Jobs a queue holds in SUBMITTED at most (AWS Batch's service quota): pcr-sdk reads a batch
manifest of at most this many job entries, reruns included."""

# -- S3: request limits ------------------------------------------------------------------------

MAX_SINGLE_PUT_BYTES: Final = 5 * 1024**3
"""PutObject uploads at most 5 GiB; larger objects go in parts (multipart upload)."""
MIN_PART_BYTES: Final = 5 * 1024**2
"""Every part of a multipart upload but the last is at least 5 MiB."""
MAX_PART_BYTES: Final = 5 * 1024**3
MAX_PARTS: Final = 10_000
MAX_OBJECT_BYTES: Final = 5 * 1024**4
"""An S3 object is at most 5 TiB."""

# -- AWS Batch: what it writes into jobs -------------------------------------------------------

DEPENDENCY_FAILED_REASON: Final = "Dependent Job failed"
CONTAINER_EXITED_REASON: Final = "Essential container in task exited"
TIMEOUT_REASON: Final = "Job attempt duration exceeded timeout"
TASK_START_FAILED_REASON: Final = "Task failed to start"
HOST_TERMINATED_REASON_PREFIX: Final = "Host EC2"
"""Spot reclaims and host failures: 'Host EC2 (instance i-...) terminated.'"""
BLOCKED_BY_RESOURCES_REASON: Final = (
    "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - The job resource requirement (vCPU/memory/GPU) "
    "is higher than that can be met by the CE(s) attached to the job queue."
)
"""statusReason of a RUNNABLE job no compute environment of its queue can ever fit."""
BLOCKED_REASON_PREFIXES: Final = ("MISCONFIGURATION:", "CAPACITY:")
"""A RUNNABLE job whose statusReason starts so blocks its queue (job_stuck_in_runnable)."""
ENV_JOB_ID: Final = "AWS_BATCH_JOB_ID"
ENV_JOB_ATTEMPT: Final = "AWS_BATCH_JOB_ATTEMPT"
ENV_ARRAY_INDEX: Final = "AWS_BATCH_JOB_ARRAY_INDEX"
ENV_ARRAY_SIZE: Final = "AWS_BATCH_JOB_ARRAY_SIZE"
ENV_QUEUE_NAME: Final = "AWS_BATCH_JQ_NAME"
ENV_CE_NAME: Final = "AWS_BATCH_CE_NAME"
BATCH_LOG_GROUP: Final = "/aws/batch/job"
"""CloudWatch Logs group of every job's container output."""
FINISHED_JOB_RETENTION_HOURS: Final = 24
"""About how long DescribeJobs and ListJobs still return a finished job."""

# -- AWS Batch: job lifecycle details the local engine reproduces -------------------------------

TERMINATION_GRACE_SECONDS: Final = 30
"""A timeout or TerminateJob sends the container SIGTERM, then SIGKILL this many seconds later."""
HOST_TERMINATED_REASON_FORMAT: Final = "Host EC2 (instance {instance_id}) terminated."
"""An attempt's statusReason when its instance went away (a Spot reclaim); no exit code."""
OUT_OF_MEMORY_REASON: Final = "OutOfMemoryError: Container killed due to memory usage"
"""`container.reason` of an attempt killed for exceeding its MEMORY (its exit code: 137)."""
SIGNAL_EXIT_BASE: Final = 128
"""A container killed by signal n exits with 128 + n, as Docker and ECS report it."""
SIGKILL_EXIT_CODE: Final = 137
"""128 + SIGKILL: a container killed (`kill -9`, the OOM killer, a stop's grace period ended)."""
CANNOT_START_CONTAINER: Final = "CannotStartContainerError"
"""`container.reason` prefix of an attempt whose container could not start."""
CANNOT_PULL_CONTAINER: Final = "CannotPullContainerError"
"""`container.reason` prefix of an attempt whose image could not be had."""
RETRY_ACTIONS: Final = frozenset({"RETRY", "EXIT"})
"""evaluateOnExit actions; AWS accepts them in any case."""
MAX_EVALUATE_ON_EXIT_PATTERN_LENGTH: Final = 512
RESOURCE_TYPES: Final = frozenset({"VCPU", "MEMORY", "GPU"})
"""resourceRequirements types of a container job."""
PARAMETER_REFERENCE_PREFIX: Final = "Ref::"
"""A job definition's command argument `Ref::name` is replaced by parameter `name`."""
LIST_JOBS_FILTER_NAMES: Final = frozenset(
    {"JOB_NAME", "JOB_DEFINITION", "BEFORE_CREATED_AT", "AFTER_CREATED_AT", "SHARE_IDENTIFIER"}
)
"""ListJobs takes one of these filters at a time; with a filter, newest jobs come first."""
LIST_JOBS_DEFAULT_STATUS: Final = "RUNNING"
"""What ListJobs lists without `jobStatus` and without a filter."""
MAX_STOP_REASON_LENGTH: Final = 1024
"""CancelJob's and TerminateJob's `reason`."""
IMAGE_PATTERN: Final = r"[A-Za-z0-9\-_:./#]{1,255}"
"""A job definition's image: up to 255 letters, numbers, hyphens, underscores, colons,
periods, forward slashes and number signs (RegisterJobDefinition's rule)."""

# -- CloudWatch Logs ---------------------------------------------------------------------------

LOGS_MAX_REQUEST_BYTES: Final = 1_048_576
"""The largest CloudWatch Logs request (a PutLogEvents batch)."""
LOGS_MAX_RESPONSE_BYTES: Final = 1_048_576
"""GetLogEvents and FilterLogEvents answer with at most 1 MB of events."""
GET_LOG_EVENTS_MAX_LIMIT: Final = 10_000
FILTER_LOG_EVENTS_MAX_LIMIT: Final = 10_000
DESCRIBE_LOG_STREAMS_MAX_LIMIT: Final = 50
FILTER_LOG_EVENTS_MAX_STREAM_NAMES: Final = 100

# -- Tags pcr-sdk puts on what it creates -----------------------------------------------------

TAG_BATCH_ID: Final = "pcr:batch-id"
TAG_INDEX: Final = "pcr:index"
TAG_ARRAY_SIZE: Final = "pcr:array-size"
TAG_SUBMISSION: Final = "pcr:submission"
TAG_ATTEMPT: Final = "pcr:attempt"
"""On a rerun (`resubmit_failed`): its attempt number (2, 3, ...); a job without it is attempt 1.
The highest attempt at an index is that index's current job."""
TAG_MANAGED_BY: Final = "pcr:managed-by"
MANAGED_BY_VALUE: Final = "pcr-sdk"
AWS_TAG_PREFIX: Final = "aws:"
"""Tag keys starting with it are AWS's own: no request may add or remove one."""
RESERVED_TAG_PREFIXES: Final = (AWS_TAG_PREFIX, "pcr:")
MAX_TAGS: Final = 50
MAX_TAG_KEY_LENGTH: Final = 128
MAX_TAG_VALUE_LENGTH: Final = 256

# -- Error codes -------------------------------------------------------------------------------

THROTTLING_ERROR_CODES: Final = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)
"""What botocore's standard retry mode treats as throttling (a test keeps the two equal)."""
ACCESS_DENIED_ERROR_CODES: Final = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}
)
EXPIRED_CREDENTIALS_ERROR_CODES: Final = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "RequestExpired",
        "TokenRefreshRequired",
    }
)
"""Codes AWS answers when temporary credentials (STS, SSO) ran out or are no longer valid."""
NO_SUCH_BUCKET_ERROR_CODES: Final = frozenset({"NoSuchBucket"})
CONDITION_FAILED_ERROR_CODES: Final = frozenset(
    {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}
)
"""A conditional PutObject (If-None-Match / If-Match) lost: the object exists, or changed, or
another conditional write to it was under way."""
NO_SUCH_KEY_ERROR_CODES: Final = frozenset({"NoSuchKey", "404", "NotFound"})
