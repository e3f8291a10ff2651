"""Test helpers: record the AWS calls made through clients, and evaluate an IAM policy on them.

moto does not evaluate IAM, so these tests do, for the policies pcr-sdk generates: Allow
statements only (they have no Deny), `Action` and `Resource` with IAM's `*` / `?` wildcards,
and the condition operators those policies use (StringEquals, StringLike, Null). Each recorded
call becomes the IAM requests AWS would authorize for it (action, resource ARN, context keys),
following the Service Authorization Reference: SubmitJob on the queue and the job definition,
tag-on-create as batch:TagResource, aws:RequestTag / aws:ResourceTag, s3:prefix, iam:PassRole
for a job definition's job role.
"""

from __future__ import annotations

import fnmatch
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pcr_sdk import AwsClients
from pcr_sdk.infra import PolicyDocument
from pcr_sdk.infra._policy import iam_action

if TYPE_CHECKING:
    from botocore.model import OperationModel
    from mypy_boto3_batch import BatchClient


@dataclass(frozen=True)
class Request:
    """One IAM authorization request: an action on a resource, with condition context."""

    action: str
    resource: str
    context: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Call:
    """One API call as a client made it, and the IAM requests it needs."""

    service: str
    operation: str
    params: Mapping[str, Any]
    requests: tuple[Request, ...]

    @property
    def action(self) -> str:
        return iam_action(self.service, self.operation)


class CallRecorder:
    """Records every call made through `clients`, with the parameters the caller gave.

    A ``before-parameter-build.*.*`` hook on each client: it fires once per API call (each
    page of a paginator is one call; botocore's retries do not repeat it), before botocore
    serializes the request, so it sees the parameters as the SDK passed them.

    `lookup` (a client the hook is not on) reads the tags of the job definitions and jobs that
    Deregister/TerminateJob act on, for aws:ResourceTag conditions.
    """

    def __init__(
        self, clients: AwsClients, *, lookup: BatchClient, region: str, account: str
    ) -> None:
        self.calls: list[Call] = []
        self._lookup = lookup
        self._region = region
        self._account = account
        self._lock = threading.Lock()
        for client in (clients.batch, clients.s3, clients.logs):
            client.meta.events.register("before-parameter-build.*.*", self._record)

    def _record(self, model: OperationModel, params: Mapping[str, Any], **_: Any) -> None:
        service = model.service_model.signing_name
        requests = tuple(self._requests(service, model.name, params))
        with self._lock:
            self.calls.append(Call(service, model.name, dict(params), requests))

    @property
    def actions(self) -> set[str]:
        with self._lock:
            return {call.action for call in self.calls}

    def _batch_arn(self, kind: str, name: str) -> str:
        if name.startswith("arn:"):
            return name
        return f"arn:aws:batch:{self._region}:{self._account}:{kind}/{name}"

    def _requests(self, service: str, operation: str, p: Mapping[str, Any]) -> Iterable[Request]:
        action = iam_action(service, operation)
        if service == "batch":
            yield from self._batch_requests(operation, action, p)
        elif service == "s3":
            bucket = p["Bucket"]
            if operation == "ListObjectsV2":
                prefix = p.get("Prefix", "")
                yield Request(action, f"arn:aws:s3:::{bucket}", {"s3:prefix": prefix})
            elif operation == "DeleteObjects":  # IAM checks s3:DeleteObject on each key
                for item in p["Delete"]["Objects"]:
                    yield Request(action, f"arn:aws:s3:::{bucket}/{item['Key']}")
            else:
                yield Request(action, f"arn:aws:s3:::{bucket}/{p['Key']}")
        elif service == "logs":
            arn = (
                f"arn:aws:logs:{self._region}:{self._account}:log-group:{p['logGroupName']}"
                f":log-stream:{p['logStreamName']}"
            )
            yield Request(action, arn)
        else:
            raise AssertionError(f"unexpected service {service}")

    def _batch_requests(
        self, operation: str, action: str, p: Mapping[str, Any]
    ) -> Iterable[Request]:
        tags = {f"aws:RequestTag/{k}": v for k, v in (p.get("tags") or {}).items()}
        if operation == "SubmitJob":
            yield Request(action, self._batch_arn("job-queue", p["jobQueue"]))
            yield Request(action, self._batch_arn("job-definition", p["jobDefinition"]))
            if tags:
                yield Request("batch:TagResource", self._batch_arn("job", "new-job-id"), tags)
        elif operation == "RegisterJobDefinition":
            arn = self._batch_arn("job-definition", p["jobDefinitionName"])
            yield Request(action, arn, tags)
            if tags:
                yield Request("batch:TagResource", arn, tags)
            role = (p.get("containerProperties") or {}).get("jobRoleArn")
            if role:
                yield Request("iam:PassRole", role)
        elif operation == "DeregisterJobDefinition":
            arn = self._batch_arn("job-definition", p["jobDefinition"])
            definitions = self._lookup.describe_job_definitions(jobDefinitions=[arn])
            found = definitions["jobDefinitions"]
            yield Request(action, arn, _resource_tags(found[0].get("tags", {}) if found else {}))
        elif operation == "TerminateJob":
            jobs = self._lookup.describe_jobs(jobs=[p["jobId"]])["jobs"]
            job_tags = jobs[0].get("tags", {}) if jobs else {}
            yield Request(action, self._batch_arn("job", p["jobId"]), _resource_tags(job_tags))
        else:
            # DescribeJobs, ListJobs, DescribeJobDefinitions, DescribeJobQueues: IAM has no
            # resource types for them, so AWS authorizes them on "*".
            yield Request(action, "*")


def _resource_tags(tags: Mapping[str, str]) -> dict[str, str]:
    return {f"aws:ResourceTag/{k}": v for k, v in tags.items()}


def _matches(patterns: str | Sequence[str], value: str) -> bool:
    items = [patterns] if isinstance(patterns, str) else patterns
    return any(fnmatch.fnmatchcase(value, pattern) for pattern in items)


def _condition_holds(
    condition: Mapping[str, Mapping[str, Any]], context: Mapping[str, str]
) -> bool:
    for operator, entries in condition.items():
        for key, expected in entries.items():
            wanted = [expected] if isinstance(expected, str) else list(expected)
            actual = context.get(key)
            if operator == "StringEquals":
                ok = actual is not None and actual in wanted
            elif operator == "StringLike":
                ok = actual is not None and _matches(wanted, actual)
            elif operator == "Null":
                ok = (actual is None) == (wanted == ["true"])
            else:
                raise AssertionError(f"condition operator {operator} is not evaluated here")
            if not ok:
                return False
    return True


def allowed(policy: PolicyDocument | Mapping[str, Any], request: Request) -> bool:
    """Whether an Allow statement of `policy` grants `request` (the policy has no Deny)."""
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        if not _matches(statement["Action"], request.action):
            continue
        if not _matches(statement["Resource"], request.resource):
            continue
        if _condition_holds(statement.get("Condition", {}), request.context):
            return True
    return False


def denied(policy: PolicyDocument | Mapping[str, Any], calls: Iterable[Call]) -> list[str]:
    """The requests of `calls` that `policy` does not allow, described."""
    return [
        f"{call.operation}: {request}"
        for call in calls
        for request in call.requests
        if not allowed(policy, request)
    ]
