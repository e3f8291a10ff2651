"""The one table of what the local engine refuses: each check, AWS's wording, AWS's source.

Every request the local AWS Batch and CloudWatch Logs refuse is refused through a row of this
table (`Check.refuse`), so the answer (error code and message) is written once, beside the AWS
page that states the rule, and `docs/local-checks.md` is generated from it. The wording: where
AWS's own answer to such a request is on public record (`seen`), the row answers with it;
otherwise the message follows the documentation's sentence. Rows without a `source` are limits
of the local engine, not of AWS (what it does not implement). Limits come from
`pcr_sdk._private.wire.facts`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from pcr_sdk._private.wire import facts

_API: Final = "https://docs.aws.amazon.com/batch/latest/APIReference/"
_GUIDE: Final = "https://docs.aws.amazon.com/batch/latest/userguide/"
_LOGS: Final = "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/"
_QUOTAS: Final = f"{_GUIDE}service_limits.html"
_COMMON: Final = f"{_API}CommonErrors.html"
_FARGATE: Final = f"{_GUIDE}fargate-job-definitions.html"
_TAG_OPERATIONS: Final = ("TagResource", "UntagResource", "ListTagsForResource")
_TAGGED: Final = ("RegisterJobDefinition", "SubmitJob", "TagResource")
_LOG_READS: Final = ("GetLogEvents", "DescribeLogStreams", "FilterLogEvents")
_INVALID: Final = "InvalidParameterException"


class ServiceError(Exception):
    """An error answer: HTTP status, AWS error code and message."""

    def __init__(self, code: str, message: str, *, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Check:
    """One thing the engine refuses, answered as AWS answers it."""

    service: str
    """`AWS Batch` or `CloudWatch Logs` (or both)."""
    operations: tuple[str, ...]
    """The operations that check it; `*` for every one."""
    refused: str
    """What is refused, in a sentence (the docs page's column)."""
    message: str
    """The answer's message, a `str.format` template over `refuse`'s keywords."""
    source: str | None
    """The AWS page that states the rule; None: a limit of the local engine only."""
    code: str = "ClientException"
    status: int = 400
    seen: str | None = None
    """A public record of AWS answering such a request with this wording, if there is one."""

    def refuse(self, **values: object) -> ServiceError:
        """The error answer, its message filled in with `values`."""
        return ServiceError(self.code, self.message.format(**values), status=self.status)


# -- every request ------------------------------------------------------------------------------

MALFORMED_BODY: Final = Check(
    "AWS Batch, CloudWatch Logs",
    ("*",),
    "a body that is not UTF-8 JSON, not an object, or nested deeper than Python's recursion limit",
    "request body {problem}",
    _COMMON,
    code="SerializationException",
)
BATCH_SHAPE: Final = Check(
    "AWS Batch",
    ("*",),
    "a member of the wrong type or a required member missing, as botocore's model of the "
    "operation (the one AWS publishes) says; members it does not know are let through",
    "Parameter validation failed: {problems}",
    _COMMON,
)
LOGS_SHAPE: Final = Check(
    "CloudWatch Logs",
    ("*",),
    "a member of the wrong type or a required member missing (botocore's model of the operation)",
    "Parameter validation failed: {problems}",
    f"{_LOGS}CommonErrors.html",
    code=_INVALID,
)
REQUIRED: Final = Check(
    "AWS Batch",
    ("*",),
    "a required member that is empty (the model only says it must be there)",
    "{member} is required",
    _COMMON,
)
WRONG_TYPE: Final = Check(
    "AWS Batch",
    ("*",),
    "a value of the wrong kind where the model is loose (`Ref::` parameters that are not "
    "strings, an empty `command` argument, an environment entry without a name)",
    "{member} must be {kind}",
    _COMMON,
)
BATCH_NOT_IMPLEMENTED: Final = Check(
    "AWS Batch",
    ("*",),
    "an operation the engine does not implement (scheduling policies, consumable resources, "
    "creating or changing compute environments and job queues, ...)",
    "{operation} is not implemented by pcr-sdk's local backend",
    None,
)
LOGS_NOT_IMPLEMENTED: Final = Check(
    "CloudWatch Logs",
    ("*",),
    "an operation the engine does not implement (it serves the job log group, read-only)",
    "{operation!r} is not implemented by pcr-sdk's local backend",
    None,
    code="InvalidOperationException",
)
UNKNOWN_OPERATION: Final = Check(
    "AWS Batch",
    ("*",),
    "a method and path that name no AWS Batch operation",
    "no operation at {method} {path}",
    None,
    code="UnknownOperationException",
)

# -- job definitions ----------------------------------------------------------------------------

DEFINITION_SIZE: Final = Check(
    "AWS Batch",
    ("RegisterJobDefinition",),
    f"a request over {facts.MAX_JOB_DEFINITION_BYTES // 1024} KiB (compact JSON, UTF-8)",
    f"Job definition size must be less than {facts.MAX_JOB_DEFINITION_BYTES // 1024} KiB, "
    "got {size} KiB",
    _QUOTAS,
)
DEFINITION_NAME: Final = Check(
    "AWS Batch",
    ("RegisterJobDefinition",),
    f"a name over {facts.MAX_NAME_LENGTH} characters or with other than letters, numbers, "
    "hyphens and underscores",
    f"{{what}} {{value!r}} is invalid: up to {facts.MAX_NAME_LENGTH} letters, numbers, hyphens "
    "and underscores",
    f"{_API}API_RegisterJobDefinition.html",
)
DEFINITION_TYPE: Final = Check(
    "AWS Batch",
    ("RegisterJobDefinition",),
    "a `multinode` definition: the engine runs container jobs only",
    "job definition type {kind!r} is not supported by the local backend (only 'container')",
    None,
)
IMAGE: Final = Check(
    "AWS Batch",
    ("RegisterJobDefinition",),
    "an image over 255 characters or with other than `[A-Za-z0-9-_:./#]`",
    "containerProperties.image {value!r} is invalid: up to 255 letters, numbers, hyphens, "
    "underscores, colons, periods, forward slashes and number signs",
    f"{_API}API_ContainerProperties.html",
)
EC2_VCPUS: Final = Check(
    "AWS Batch",
    ("RegisterJobDefinition",),
    "an EC2 definition without vCPUs (no `VCPU` resource requirement, no `vcpus`)",
    "vCPU is not provided.",
    f"{_API}API_ContainerProperties.html",
    seen="https://github.com/ASFHyP3/hyp3/pull/586",
)
EC2_MEMORY: Final = Check(
    "AWS Batch",
    ("RegisterJobDefinition",),
    "an EC2 definition without memory (no `MEMORY` resource requirement, no `memory`)",
    "Memory is not provided.",
    f"{_API}API_ContainerProperties.html",
)
FARGATE_EXECUTION_ROLE: Final = Check(
    "AWS Batch",
    ("RegisterJobDefinition",),
    "a Fargate definition without `containerProperties.executionRoleArn`",
    "executionRoleArn must be specified for jobs running on Fargate resources",
    _FARGATE,
)
FARGATE_LEGACY_RESOURCES: Final = Check(
    "AWS Batch",
    ("RegisterJobDefinition", "SubmitJob"),
    "the old-style `vcpus` or `memory` in a Fargate definition or in a Fargate job's overrides",
    "{key} is not applicable for Fargate. Use resource requirements instead.",
    _FARGATE,
    seen="https://github.com/insitro/redun/pull/95",
)
FARGATE_RESOURCES: Final = Check(
    "AWS Batch",
    ("RegisterJobDefinition", "SubmitJob"),
    "a Fargate job whose VCPU and MEMORY are not a pair Fargate supports "
    f"({', '.join(f'{v:g}' for v in facts.FARGATE_MEMORY_MIB)} vCPUs, each with its memory "
    "sizes), or that lacks either",
    "Fargate resource requirements ({vcpus} vCPU, {memory} MiB) not valid.",
    f"{_API}API_ResourceRequirement.html",
    seen="https://github.com/Netflix/metaflow/issues/749",
)
FARGATE_GPU: Final = Check(
    "AWS Batch",
    ("RegisterJobDefinition", "SubmitJob"),
    "a GPU for a Fargate job",
    "GPU resources aren't supported for jobs that run on Fargate resources",
    _FARGATE,
)
RESOURCE_TYPE: Final = Check(
    "AWS Batch",
    ("RegisterJobDefinition", "SubmitJob"),
    "a resource requirement of another type than VCPU, MEMORY or GPU",
    "{where}: every entry needs a type (GPU, MEMORY, VCPU) and a string value",
    f"{_API}API_ResourceRequirement.html",
)
RESOURCE_VALUE: Final = Check(
    "AWS Batch",
    ("RegisterJobDefinition", "SubmitJob"),
    "a resource requirement whose value is not a number",
    "Value {value} for type {kind} in resourceRequirement is not valid. Please provide a "
    "numeric value.",
    f"{_API}API_ResourceRequirement.html",
    seen="https://github.com/kestra-io/plugin-aws/issues/504",
)
VCPUS_RANGE: Final = Check(
    "AWS Batch",
    ("RegisterJobDefinition", "SubmitJob"),
    f"vCPUs not above 0 or over {facts.MAX_VCPUS} (`VCPU`, `vcpus`)",
    f"{{where}}: VCPU must be above 0 and at most {facts.MAX_VCPUS}, got {{value}}",
    f"{_API}API_ResourceRequirement.html",
)
MEMORY_RANGE: Final = Check(
    "AWS Batch",
    ("RegisterJobDefinition", "SubmitJob"),
    f"memory under {facts.MIN_MEMORY_MIB} or over {facts.MAX_MEMORY_MIB:,} MiB "
    "(`MEMORY`, `memory`)",
    f"{{where}}: MEMORY must be {facts.MIN_MEMORY_MIB} to {facts.MAX_MEMORY_MIB} MiB, "
    "got {value}",
    f"{_API}API_ResourceRequirement.html",
)
GPUS_RANGE: Final = Check(
    "AWS Batch",
    ("RegisterJobDefinition", "SubmitJob"),
    f"GPUs below 0 or over {facts.MAX_GPUS}",
    f"{{where}}: GPU must be 0 to {facts.MAX_GPUS}, got {{value}}",
    f"{_API}API_ResourceRequirement.html",
)
RESERVED_ENV: Final = Check(
    "AWS Batch",
    ("RegisterJobDefinition", "SubmitJob"),
    f"environment variables named `{facts.RESERVED_ENV_PREFIX}*`, in a job definition or in "
    "`containerOverrides`",
    f"environment variable names starting with {facts.RESERVED_ENV_PREFIX} are reserved: {{names}}",
    f"{_GUIDE}job_env_vars.html",
)
TIMEOUT: Final = Check(
    "AWS Batch",
    ("RegisterJobDefinition", "SubmitJob"),
    f"`attemptDurationSeconds` under {facts.MIN_TIMEOUT_SECONDS}",
    f"timeout.attemptDurationSeconds must be at least {facts.MIN_TIMEOUT_SECONDS}",
    f"{_API}API_JobTimeout.html",
)
DEFINITION_NOT_FOUND: Final = Check(
    "AWS Batch",
    ("SubmitJob", "DeregisterJobDefinition"),
    "a job definition that does not exist, or (SubmitJob) is INACTIVE",
    "JobDefinition {reference} not found.",
    f"{_API}API_SubmitJob.html",
    seen="https://github.com/azavea/raster-vision-aws/issues/17",
)

# -- retry strategies ---------------------------------------------------------------------------

RETRY_ATTEMPTS_MISSING: Final = Check(
    "AWS Batch",
    ("RegisterJobDefinition", "SubmitJob"),
    "a `retryStrategy` without `attempts` (e.g. only `evaluateOnExit`)",
    "RetryAttempts must be provided with retry strategy",
    f"{_API}API_RetryStrategy.html",
    seen="https://github.com/apache/airflow/pull/35789",
)
RETRY_ATTEMPTS: Final = Check(
    "AWS Batch",
    ("RegisterJobDefinition", "SubmitJob"),
    f"`attempts` outside 1..{facts.MAX_RETRY_ATTEMPTS}",
    f"retryStrategy.attempts must be between 1 and {facts.MAX_RETRY_ATTEMPTS}",
    f"{_API}API_RetryStrategy.html",
)
RETRY_RULES: Final = Check(
    "AWS Batch",
    ("RegisterJobDefinition", "SubmitJob"),
    f"more than {facts.MAX_EVALUATE_ON_EXIT_RULES} `evaluateOnExit` rules",
    f"retryStrategy.evaluateOnExit takes at most {facts.MAX_EVALUATE_ON_EXIT_RULES} entries, "
    "got {count}",
    f"{_API}API_RetryStrategy.html",
)
RETRY_ACTION: Final = Check(
    "AWS Batch",
    ("RegisterJobDefinition", "SubmitJob"),
    "a rule whose action is not RETRY or EXIT (in any case)",
    "{where}.action must be RETRY or EXIT, got {action!r}",
    f"{_API}API_EvaluateOnExit.html",
)
RETRY_PATTERN_LENGTH: Final = Check(
    "AWS Batch",
    ("RegisterJobDefinition", "SubmitJob"),
    f"a rule's pattern over {facts.MAX_EVALUATE_ON_EXIT_PATTERN_LENGTH} characters",
    f"{{where}} is longer than {facts.MAX_EVALUATE_ON_EXIT_PATTERN_LENGTH} characters",
    f"{_API}API_EvaluateOnExit.html",
)
RETRY_PATTERN: Final = Check(
    "AWS Batch",
    ("RegisterJobDefinition", "SubmitJob"),
    "a rule's pattern with other characters than AWS allows (`onExitCode`: digits; the "
    "reasons: letters, numbers, periods, colons, white space), or `*` anywhere but at the end",
    "{where} {value!r} is not a valid pattern: {allowed}, optionally ending with *",
    f"{_API}API_EvaluateOnExit.html",
)

# -- jobs ---------------------------------------------------------------------------------------

SUBMIT_JOB_SIZE: Final = Check(
    "AWS Batch",
    ("SubmitJob",),
    f"a request over {facts.MAX_SUBMIT_PAYLOAD_BYTES // 1024} KiB (compact JSON, UTF-8)",
    f"Job size must be less than {facts.MAX_SUBMIT_PAYLOAD_BYTES // 1024} KiB, got {{size}} KiB",
    _QUOTAS,
    seen="https://github.com/ASFHyP3/hyp3/issues/3041",
)
JOB_NAME: Final = Check(
    "AWS Batch",
    ("SubmitJob",),
    f"a name over {facts.MAX_NAME_LENGTH} characters, with other than letters, numbers, hyphens "
    "and underscores, or not starting with a letter or number",
    f"{{what}} {{value!r}} is invalid: up to {facts.MAX_NAME_LENGTH} letters, numbers, hyphens "
    "and underscores, starting with a letter or number",
    f"{_API}API_SubmitJob.html",
)
QUEUE_NOT_FOUND: Final = Check(
    "AWS Batch",
    ("SubmitJob", "ListJobs"),
    "a job queue that does not exist",
    "JobQueue {queue} not found",
    f"{_API}API_SubmitJob.html",
)
DEPENDENCIES: Final = Check(
    "AWS Batch",
    ("SubmitJob",),
    f"more than {facts.MAX_DEPENDENCIES} `dependsOn` entries",
    f"a job can depend on at most {facts.MAX_DEPENDENCIES} jobs, got {{count}}",
    _QUOTAS,
)
DEPENDENCY_JOB_ID: Final = Check(
    "AWS Batch",
    ("SubmitJob",),
    "a `dependsOn` entry without `jobId`, other than an array job's SEQUENTIAL one",
    "dependsOn: jobId is required",
    f"{_API}API_JobDependency.html",
)
DEPENDENCY_NOT_FOUND: Final = Check(
    "AWS Batch",
    ("SubmitJob",),
    "a dependency on a job that does not exist",
    "dependsOn: job {job_id} does not exist",
    f"{_API}API_JobDependency.html",
)
N_TO_N_SIZE: Final = Check(
    "AWS Batch",
    ("SubmitJob",),
    "an N_TO_N dependency on an array job of another size",
    "dependsOn: an N_TO_N dependency needs an array job of size {size}; {job_id} has size {other}",
    f"{_GUIDE}array_jobs.html",
)
ARRAY_SIZE: Final = Check(
    "AWS Batch",
    ("SubmitJob",),
    f"an array size outside {facts.MIN_ARRAY_SIZE}..{facts.MAX_ARRAY_SIZE:,}",
    f"arrayProperties.size must be between {facts.MIN_ARRAY_SIZE} and {facts.MAX_ARRAY_SIZE}, "
    "got {size}",
    f"{_API}API_ArrayProperties.html",
)
DESCRIBE_JOBS_IDS: Final = Check(
    "AWS Batch",
    ("DescribeJobs",),
    f"more than {facts.DESCRIBE_JOBS_MAX_IDS} job ids",
    f"Maximum number of jobs supported is {facts.DESCRIBE_JOBS_MAX_IDS}",
    f"{_API}API_DescribeJobs.html",
    seen="https://github.com/pegasus-isi/pegasus/issues/2086",
)
LIST_JOBS_SCOPE: Final = Check(
    "AWS Batch",
    ("ListJobs",),
    "neither `jobQueue` nor `arrayJobId`",
    "jobQueue or arrayJobId is required",
    f"{_API}API_ListJobs.html",
)
JOB_STATUS: Final = Check(
    "AWS Batch",
    ("ListJobs",),
    "a `jobStatus` that is not one of the seven statuses",
    "jobStatus {status!r} is invalid",
    f"{_API}API_ListJobs.html",
)
LIST_FILTER_COUNT: Final = Check(
    "AWS Batch",
    ("ListJobs",),
    "more than one filter",
    "filters: only one filter can be used at a time, got {count}",
    f"{_API}API_ListJobs.html",
)
LIST_FILTER_NAME: Final = Check(
    "AWS Batch",
    ("ListJobs",),
    "a filter name other than "
    f"{', '.join(f'`{name}`' for name in sorted(facts.LIST_JOBS_FILTER_NAMES))} (case sensitive)",
    "filters: unknown filter name {name!r} (names are case sensitive: "
    f"{', '.join(sorted(facts.LIST_JOBS_FILTER_NAMES))})",
    f"{_API}API_KeyValuesPair.html",
)
LIST_FILTER_VALUE: Final = Check(
    "AWS Batch",
    ("ListJobs",),
    "a BEFORE_CREATED_AT or AFTER_CREATED_AT value that is not a time in epoch milliseconds",
    "filters: {name} needs an epoch-millisecond value",
    f"{_API}API_KeyValuesPair.html",
)
MAX_RESULTS: Final = Check(
    "AWS Batch",
    ("ListJobs", "DescribeJobDefinitions", "DescribeComputeEnvironments"),
    "`maxResults` below 1, or (but for ListJobs, which caps it) above 100",
    "maxResults must be between 1 and {cap}, got {count}",
    f"{_API}API_DescribeJobDefinitions.html",
)
NEXT_TOKEN: Final = Check(
    "AWS Batch",
    ("ListJobs", "DescribeJobDefinitions", "DescribeComputeEnvironments"),
    "a `nextToken` the engine did not hand out for that listing",
    "invalid nextToken {token!r}",
    f"{_API}API_ListJobs.html",
)
JOB_NOT_FOUND: Final = Check(
    "AWS Batch",
    ("CancelJob", "TerminateJob"),
    "a job that does not exist",
    "Job {job_id} not found",
    f"{_API}API_CancelJob.html",
)
STOP_REASON: Final = Check(
    "AWS Batch",
    ("CancelJob", "TerminateJob"),
    f"a `reason` over {facts.MAX_STOP_REASON_LENGTH:,} characters",
    f"reason is longer than {facts.MAX_STOP_REASON_LENGTH} characters",
    f"{_API}API_CancelJob.html",
)

# -- tags ---------------------------------------------------------------------------------------

TAG_ARRAY_CHILD: Final = Check(
    "AWS Batch",
    _TAG_OPERATIONS,
    "the ARN of an array job's child (`<parent id>:<index>`)",
    "ARNs for child jobs of array and multi-node parallel (MNP) jobs aren't supported.",
    f"{_API}API_TagResource.html",
)
TAG_RESOURCE_NOT_FOUND: Final = Check(
    "AWS Batch",
    _TAG_OPERATIONS,
    "the ARN of a job or job definition that does not exist, or of another kind of resource",
    "resource {arn} not found",
    f"{_API}API_TagResource.html",
)
TAG_COUNT: Final = Check(
    "AWS Batch",
    _TAGGED,
    f"more than {facts.MAX_TAGS} tags on one resource",
    f"a resource takes at most {facts.MAX_TAGS} tags, got {{count}}",
    f"{_API}API_TagResource.html",
)
TAG_KEY: Final = Check(
    "AWS Batch",
    (*_TAGGED, "UntagResource"),
    f"a tag key that is empty or over {facts.MAX_TAG_KEY_LENGTH} characters",
    f"tag key {{key}}: a tag key is 1 to {facts.MAX_TAG_KEY_LENGTH} characters, got {{length}}",
    f"{_API}API_TagResource.html",
)
TAG_VALUE: Final = Check(
    "AWS Batch",
    _TAGGED,
    f"a tag value over {facts.MAX_TAG_VALUE_LENGTH} characters",
    f"tag {{key}}: a tag value is at most {facts.MAX_TAG_VALUE_LENGTH} characters, got {{length}}",
    f"{_API}API_TagResource.html",
)
TAG_AWS_PREFIX: Final = Check(
    "AWS Batch",
    (*_TAGGED, "UntagResource"),
    f"a tag key starting with `{facts.AWS_TAG_PREFIX}` (in any case): AWS's own",
    f"tag {{key}}: the prefix {facts.AWS_TAG_PREFIX} is reserved for AWS use",
    f"{_GUIDE}using-tags.html",
)

# -- CloudWatch Logs ----------------------------------------------------------------------------

LOG_GROUP_CHOICE: Final = Check(
    "CloudWatch Logs",
    _LOG_READS,
    "both `logGroupName` and `logGroupIdentifier`, or neither",
    "You must include either logGroupIdentifier or logGroupName, but not both.",
    f"{_LOGS}API_GetLogEvents.html",
    code=_INVALID,
)
LOG_GROUP_NOT_FOUND: Final = Check(
    "CloudWatch Logs",
    _LOG_READS,
    f"a log group other than `{facts.BATCH_LOG_GROUP}` (by name or ARN)",
    "The specified log group does not exist.",
    f"{_LOGS}API_GetLogEvents.html",
    code="ResourceNotFoundException",
)
LOG_STREAM_NOT_FOUND: Final = Check(
    "CloudWatch Logs",
    ("GetLogEvents",),
    "a log stream that does not exist",
    "The specified log stream does not exist.",
    f"{_LOGS}API_GetLogEvents.html",
    code="ResourceNotFoundException",
)
LOGS_LIMIT: Final = Check(
    "CloudWatch Logs",
    _LOG_READS,
    f"`limit` below 1 or above the operation's most ({facts.GET_LOG_EVENTS_MAX_LIMIT:,} events, "
    f"{facts.DESCRIBE_LOG_STREAMS_MAX_LIMIT} streams)",
    "limit must be 1..{most}",
    f"{_LOGS}API_FilterLogEvents.html",
    code=_INVALID,
)
LOGS_NEXT_TOKEN: Final = Check(
    "CloudWatch Logs",
    _LOG_READS,
    "a `nextToken` the engine did not hand out for that read",
    "the next token {token!r} is invalid",
    f"{_LOGS}API_GetLogEvents.html",
    code=_INVALID,
)
LOG_STREAM_ORDER: Final = Check(
    "CloudWatch Logs",
    ("DescribeLogStreams",),
    "`orderBy: LastEventTime` with a `logStreamNamePrefix`",
    "Cannot order by LastEventTime with a logStreamNamePrefix.",
    f"{_LOGS}API_DescribeLogStreams.html",
    code=_INVALID,
)
LOG_STREAM_SELECTION: Final = Check(
    "CloudWatch Logs",
    ("FilterLogEvents",),
    "both `logStreamNames` and `logStreamNamePrefix`, or more than "
    f"{facts.FILTER_LOG_EVENTS_MAX_STREAM_NAMES} stream names",
    "{problem}",
    f"{_LOGS}API_FilterLogEvents.html",
    code=_INVALID,
)
FILTER_PATTERN: Final = Check(
    "CloudWatch Logs",
    ("FilterLogEvents",),
    "a `filterPattern` beyond plain terms: the engine matches words and quoted phrases (an "
    "event matches when it holds all of them, case-sensitively), not AWS's `?`, `-`, "
    "`%regex%`, `{ $.json }` or `[space, delimited]` syntax",
    "filterPattern {pattern!r} is not supported by pcr-sdk's local backend: it matches plain "
    'terms only, words of letters, digits and underscores or "quoted phrases" (an event '
    "matches when it contains every term); {problem}",
    "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html",
    code=_INVALID,
)

CHECKS: Final[dict[str, Check]] = {
    name: value for name, value in dict(globals()).items() if isinstance(value, Check)
}
"""Every check, by its name here, in the order above (the docs page's order)."""
