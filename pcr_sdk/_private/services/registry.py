"""BatchRegistry: one job definition per batch, registered once, deregistered exactly once."""

from __future__ import annotations

import logging
import threading
from types import TracebackType
from typing import TYPE_CHECKING, Literal

from pcr_sdk._private.edge import hooks as calls
from pcr_sdk._private.edge.governor import RateGovernor
from pcr_sdk._private.edge.mapping import aws_call
from pcr_sdk._private.edge.resend import LostAnswerPolicy, send_once
from pcr_sdk._private.errors import AwsError, BatchClosedError
from pcr_sdk._private.model.names import BatchId
from pcr_sdk._private.model.retry_policy import RetryPolicy
from pcr_sdk._private.model.specs import JobDefinitionSpec
from pcr_sdk._private.public import public
from pcr_sdk._private.wire.facts import (
    MANAGED_BY_VALUE,
    RESERVED_TAG_PREFIXES,
    TAG_BATCH_ID,
    TAG_MANAGED_BY,
)

if TYPE_CHECKING:
    from mypy_boto3_batch import BatchClient
    from mypy_boto3_batch.type_defs import (
        ContainerPropertiesTypeDef,
        RegisterJobDefinitionRequestTypeDef,
        ResourceRequirementTypeDef,
    )

logger = logging.getLogger(__name__)


def register_request(
    batch_id: BatchId, spec: JobDefinitionSpec
) -> RegisterJobDefinitionRequestTypeDef:
    """The RegisterJobDefinition request for `spec`, named after the batch and tagged as ours."""
    resources: list[ResourceRequirementTypeDef] = [
        {"type": "VCPU", "value": str(spec.vcpus)},
        {"type": "MEMORY", "value": str(spec.memory_mib)},
    ]
    if spec.gpus:
        resources.append({"type": "GPU", "value": str(spec.gpus)})
    container: ContainerPropertiesTypeDef = {
        "image": spec.image,
        "resourceRequirements": resources,
        "environment": [{"name": k, "value": v} for k, v in sorted(spec.environment.items())],
    }
    if spec.job_role_arn:
        container["jobRoleArn"] = spec.job_role_arn
    if spec.platform == "FARGATE" and spec.execution_role_arn:
        container["executionRoleArn"] = spec.execution_role_arn
        container["networkConfiguration"] = {
            "assignPublicIp": "ENABLED" if spec.assign_public_ip else "DISABLED"
        }
        container["fargatePlatformConfiguration"] = {"platformVersion": "LATEST"}
    request: RegisterJobDefinitionRequestTypeDef = {
        "jobDefinitionName": str(batch_id),
        "type": "container",
        "containerProperties": container,
        "timeout": {"attemptDurationSeconds": spec.timeout_seconds},
        "retryStrategy": spec.retry.to_aws(),
        "propagateTags": True,
        "platformCapabilities": [spec.platform],
        "tags": {**spec.tags, TAG_MANAGED_BY: MANAGED_BY_VALUE, TAG_BATCH_ID: str(batch_id)},
    }
    return request


@public("pcr_sdk.advanced")
class BatchRegistry:
    """Owns the job definition of one batch.

    `register()` is idempotent. `deregister()` closes the batch to new jobs at once and
    deregisters until it has succeeded: called again (from `__exit__` after an explicit call, or
    from several threads) it does nothing, unless the earlier call failed, then it tries again.
    `reopen()` registers a new revision of a closed batch's definition (a rerun); the next
    `deregister()` deregisters it again.

    Args:
        batch: the AWS Batch client.
        batch_id: the batch's id, also the job definition's name.
        spec: what to register (image, resources, timeout, retry policy, ...).
        governor: a rate governor the registry's calls also go through; None: none.
        lost_answers: how to look for a definition whose RegisterJobDefinition answer was
            lost (default: as many attempts as the client's retries).
    """

    def __init__(
        self,
        batch: BatchClient,
        batch_id: BatchId,
        spec: JobDefinitionSpec,
        *,
        governor: RateGovernor | None = None,
        lost_answers: LostAnswerPolicy | None = None,
    ) -> None:
        self._batch = batch
        self._governor = governor
        self.lost_answers = lost_answers or LostAnswerPolicy(attempts=calls.max_attempts(batch))
        self.batch_id = batch_id
        self.spec = spec
        self._arn: str | None = None
        self._closed = False
        self._deregistered = False
        self._ambiguous = False
        """An answer was lost: which revisions are ACTIVE must be looked up."""
        self._lock = threading.Lock()
        self._deregistering = threading.Lock()
        calls.install(batch)

    @classmethod
    def find(
        cls,
        batch: BatchClient,
        batch_id: BatchId,
        *,
        governor: RateGovernor | None = None,
        lost_answers: LostAnswerPolicy | None = None,
    ) -> BatchRegistry:
        """The registry of an existing batch, read back from its newest job definition (its
        image, resources, timeout, retry policy, environment, tags and roles).

        Args:
            batch: the AWS Batch client.
            batch_id: the batch's id.
            governor: a rate governor the registry's calls also go through; None: none.
            lost_answers: as for the constructor.

        Returns:
            A registry of the newest revision (nothing is registered); closed if that revision
            is no longer ACTIVE (`reopen()` registers a new one).

        Raises:
            BatchClosedError: AWS Batch has no definition of that name (never registered, or
                long gone).
            AwsError: DescribeJobDefinitions failed.
        """
        if governor is not None:
            governor.acquire()
        calls.install(batch)
        with calls.scope(throttle_listener=governor), aws_call("DescribeJobDefinitions"):
            found = batch.describe_job_definitions(jobDefinitionName=str(batch_id))
        definitions = sorted(found["jobDefinitions"], key=lambda d: d["revision"])
        if not definitions:
            raise BatchClosedError(
                f"batch {batch_id} has no job definition (never registered, or long gone)",
                batch_id=str(batch_id),
            )
        newest = definitions[-1]
        props = newest.get("containerProperties", {})
        resources = {r["type"]: int(r["value"]) for r in props.get("resourceRequirements", [])}
        platform: Literal["EC2", "FARGATE"] = (
            "FARGATE" if "FARGATE" in newest.get("platformCapabilities", []) else "EC2"
        )
        retry = RetryPolicy.from_aws(newest.get("retryStrategy", {}))
        tags = {k: v for k, v in newest.get("tags", {}).items()
                if not k.startswith(RESERVED_TAG_PREFIXES)}  # fmt: skip
        network = props.get("networkConfiguration", {})
        registry = cls(
            batch,
            batch_id,
            JobDefinitionSpec(
                image=props.get("image", "unknown"),
                vcpus=resources.get("VCPU", 1),
                memory_mib=resources.get("MEMORY", 1024),
                gpus=resources.get("GPU", 0),
                timeout_seconds=newest.get("timeout", {}).get("attemptDurationSeconds", 72000),
                retry_attempts=retry.attempts,
                retry_rules=retry.rules,
                environment={
                    e["name"]: e.get("value", "")
                    for e in props.get("environment", [])
                    if "name" in e
                },
                tags=tags,
                job_role_arn=props.get("jobRoleArn"),
                platform=platform,
                execution_role_arn=props.get("executionRoleArn") if platform == "FARGATE" else None,
                assign_public_ip=network.get("assignPublicIp", "ENABLED") == "ENABLED",
            ),
            governor=governor,
            lost_answers=lost_answers,
        )
        registry._arn = newest["jobDefinitionArn"]
        registry._closed = newest.get("status") != "ACTIVE"
        active = sum(d.get("status") == "ACTIVE" for d in definitions)
        registry._deregistered = active == 0
        # another revision ACTIVE: a lost answer made one; deregister() removes them all
        registry._ambiguous = active > (0 if registry._closed else 1)
        return registry

    @property
    def arn(self) -> str:
        """The registered definition's ARN; registers it on first use."""
        return self.register()

    @property
    def closed(self) -> bool:
        """Whether the batch takes no more jobs (deregistration started)."""
        return self._closed

    @property
    def deregistered(self) -> bool:
        """Whether deregistration has succeeded: nothing of this batch is left ACTIVE."""
        return self._deregistered

    @property
    def reference(self) -> str:
        """What SubmitJob names: the exact revision's ARN once known, else the batch id."""
        return self._arn or str(self.batch_id)

    def register(self) -> str:
        """Register the batch's job definition (once; later calls return the same ARN).

        A lost answer is looked up rather than resent, so no second revision stays ACTIVE.

        Returns:
            The job definition's ARN.

        Raises:
            BatchClosedError: the definition was already deregistered.
            AwsError: AWS refused or could not be reached (mapped, see the error tree).
        """
        with self._lock:
            if self._closed:
                raise BatchClosedError(
                    f"the job definition of batch {self.batch_id} is deregistered",
                    batch_id=str(self.batch_id),
                )
            if self._arn is None:
                try:
                    self._arn = self._register()
                except AwsError:
                    if self._ambiguous:
                        self._remove_unadopted()
                    raise
                logger.info("registered job definition %s", self._arn)
            return self._arn

    def reopen(self) -> str:
        """Register the definition again (a new revision, the same spec) for a closed batch,
        once its earlier revisions are deregistered; return its ARN. An open batch's ARN is
        returned as is. If registering fails the batch stays closed.

        Returns:
            The ARN of the (new) revision.

        Raises:
            AwsError: deregistering the earlier revisions or registering failed.
        """
        with self._lock:
            closed = self._closed
        if not closed:
            return self.register()
        self.deregister()  # finishes an earlier failed deregistration; nothing if done
        with self._lock:
            self._closed, self._deregistered, self._arn = False, False, None
        return self._register_reopened()

    def ensure_active(self) -> str:
        """An ACTIVE revision of the batch's definition, as AWS Batch has it now: the newest
        ACTIVE one if there is one (another process may have registered or deregistered since
        this registry looked), else a new revision of the same spec; its ARN. The batch is open
        afterwards.

        Returns:
            The ARN of the ACTIVE revision.

        Raises:
            AwsError: DescribeJobDefinitions or RegisterJobDefinition failed.
        """
        active = self._active_arns()
        with self._lock:
            if active:
                self._arn, self._closed, self._deregistered = active[-1], False, False
                self._ambiguous = self._ambiguous or len(active) > 1
                return active[-1]
            self._closed, self._deregistered, self._arn = False, False, None
        return self._register_reopened()

    def _register_reopened(self) -> str:
        """Register a revision for a batch just marked open; if that fails it is closed again
        (and nothing is left to deregister, unless a lost answer may have registered one)."""
        try:
            return self.register()
        except BaseException:
            with self._lock:
                self._closed = True
                self._deregistered = not self._ambiguous
            raise

    def deregister_active(self) -> bool:
        """Close the batch and deregister every ACTIVE revision AWS Batch has of its definition
        (whichever process registered them); True if there was one.

        Returns:
            Whether a revision was deregistered.

        Raises:
            AwsError: the look-up or a DeregisterJobDefinition failed; the batch stays closed.
        """
        with self._lock:
            self._closed = True
            self._ambiguous = True
            self._deregistered = False
        return self.deregister()

    def _register(self) -> str:
        """RegisterJobDefinition; after a lost answer, adopt the revision it made, if any.

        RegisterJobDefinition has no client token: a blind resend would leave a second ACTIVE
        revision that nothing ever deregisters.
        """
        request = register_request(self.batch_id, self.spec)

        def send() -> str:
            self._acquire()
            with (
                calls.scope(no_blind_retry=True, throttle_listener=self._governor),
                aws_call("RegisterJobDefinition"),
            ):
                return self._batch.register_job_definition(**request)["jobDefinitionArn"]

        def find() -> str | None:
            self._ambiguous = True
            active = self._active_arns()
            return active[-1] if active else None

        return send_once(send, find, operation="RegisterJobDefinition", policy=self.lost_answers)

    def _remove_unadopted(self) -> None:
        """Registering failed after a lost answer: deregister what that answer may have made."""
        try:
            for arn in self._active_arns():
                self._deregister(arn)
        except AwsError as err:
            logger.warning(
                "job definition %s may be left ACTIVE (%s); `pcr cleanup` removes it",
                self.batch_id,
                err,
            )

    def _active_arns(self) -> list[str]:
        """The ARNs of this batch's ACTIVE revisions, oldest first (the name is the batch id)."""
        self._acquire()
        with calls.scope(throttle_listener=self._governor), aws_call("DescribeJobDefinitions"):
            found = self._batch.describe_job_definitions(
                jobDefinitionName=str(self.batch_id), status="ACTIVE"
            )
        definitions = sorted(found["jobDefinitions"], key=lambda d: d["revision"])
        return [d["jobDefinitionArn"] for d in definitions]

    def close(self) -> None:
        """Close the batch to new jobs here without deregistering its definition (another
        process may still submit with it: its end deregisters it)."""
        with self._lock:
            self._closed = True

    def deregister(self) -> bool:
        """Close the batch to new jobs and deregister its definition; True if this call did it.

        A failed call (AWS unreachable, throttled) leaves the batch closed and raises; the next
        call tries again, looking up which revisions are still ACTIVE (the failed one may have
        been applied).

        Returns:
            True if this call deregistered a revision; False if it was done already, or
            nothing was ever registered.

        Raises:
            AwsError: DeregisterJobDefinition (or the look-up) failed; the batch stays closed.
        """
        with self._lock:
            self._closed = True
        with self._deregistering:
            if self._deregistered:
                return False
            with self._lock:
                arn, ambiguous = self._arn, self._ambiguous
            if ambiguous:  # after a lost answer a revision may exist that was never adopted
                arns = self._active_arns()
            elif arn is None:
                arns = []
            else:
                arns = [arn]
            try:
                for each in arns:
                    self._deregister(each)
            except AwsError:
                with self._lock:
                    self._ambiguous = True
                raise
            self._deregistered = True
            return bool(arns)

    def _deregister(self, arn: str) -> None:
        self._acquire()
        with calls.scope(throttle_listener=self._governor), aws_call("DeregisterJobDefinition"):
            self._batch.deregister_job_definition(jobDefinition=arn)
        logger.info("deregistered job definition %s", arn)

    def _acquire(self) -> None:
        if self._governor is not None:
            self._governor.acquire()

    def __enter__(self) -> BatchRegistry:
        self.register()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.deregister()
