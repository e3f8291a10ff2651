"""JobSubmitter: the seed's API, a thin facade over the services and the ledger of one batch."""

from __future__ import annotations

import functools
import inspect
import logging
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal, TypeVar, cast

import boto3
from typing_extensions import Unpack

from pcr_sdk._private.assembly import (
    Parts,
    SubmitterOptions,
    assemble,
    batch_settings,
    lost_answer_policy,
    reattach,
)
from pcr_sdk._private.batch.lease import RerunLease
from pcr_sdk._private.batch.rerun import adopt_definition, failure_kinds
from pcr_sdk._private.batch.sessions import CREATOR, holder_name
from pcr_sdk._private.edge.clients import AwsClients, clients_for
from pcr_sdk._private.edge.governor import RateGovernor, governor_for
from pcr_sdk._private.errors import (
    AwsError,
    CredentialsExpiredError,
    InvalidJobSpecError,
    PcrInputError,
)
from pcr_sdk._private.model.names import BatchId
from pcr_sdk._private.model.results import (
    FailureKind,
    FailureKindValue,
    JobResult,
    M,
    SubmittedJob,
)
from pcr_sdk._private.model.retry_policy import RetryPolicy, retry_fields
from pcr_sdk._private.model.settings import (
    EXPIRY_SECONDS,
    IO_WORKERS,
    LOST_ANSWER_SETTLE_SECONDS,
    POLL_INTERVAL_SECONDS,
    REQUEST_SPACING_MS,
    STALE_AFTER_SECONDS,
    AwsSettings,
    build,
    seconds,
    timeout_seconds,
)
from pcr_sdk._private.model.specs import (
    CheckedInputs,
    JobDefinitionSpec,
    JobInput,
    JobSpec,
    S3Encryption,
)
from pcr_sdk._private.progress import ProgressReporter
from pcr_sdk._private.public import public
from pcr_sdk._private.seams import REAL, Seams
from pcr_sdk._private.services.registry import BatchRegistry
from pcr_sdk._private.wire.layout import BatchLayout

logger = logging.getLogger("pcr_sdk")

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")
C = TypeVar("C", bound=type)


def _resume_hint(submitter: JobSubmitter, err: CredentialsExpiredError) -> CredentialsExpiredError:
    """The error again, naming the batch and how to resume it (its jobs keep running)."""
    batch_id = str(getattr(submitter, "batch_id", "")) or None
    if err.batch_id is not None or batch_id is None:
        return err
    return CredentialsExpiredError(
        f"{err} The batch {batch_id} is not lost: its jobs keep running. Renew the "
        f"credentials, then resume with JobSubmitter.attach({batch_id!r}, ...) or "
        f"`pcr wait {batch_id}`; a session with refreshable credentials (an SSO profile or a "
        "role) avoids this.",
        batch_id=batch_id,
        operation=err.operation,
        code=err.code,
    )


def _hinting(method: F) -> F:
    @functools.wraps(method)
    def hinted(self: JobSubmitter, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except CredentialsExpiredError as err:
            refined = _resume_hint(self, err)
            if refined is err:
                raise
            raise refined from err

    return cast("F", hinted)


def _naming_the_batch(cls: C) -> C:
    """Every public method of `cls` names the batch in a `CredentialsExpiredError` (errors are
    mapped where each AWS call is made; this only adds what the facade alone knows)."""
    for name, member in list(vars(cls).items()):
        if not name.startswith("_") and inspect.isfunction(member):
            setattr(cls, name, _hinting(member))
    return cls


def _hinted_iterator(submitter: JobSubmitter, items: Iterator[T]) -> Iterator[T]:
    """`items`, naming the batch in a `CredentialsExpiredError`; closing it closes `items`."""
    try:
        while True:
            try:
                item = next(items)
            except StopIteration:
                return
            except CredentialsExpiredError as err:
                refined = _resume_hint(submitter, err)
                if refined is err:
                    raise
                raise refined from err
            yield item
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()


@public("pcr_sdk")
@_naming_the_batch
class JobSubmitter:
    """Starts a batch of jobs on AWS Batch (or any backend behind `clients`).

    The seed's API, unchanged: instantiate, `submit_job()`, `wait_until_jobs_finished()`,
    `get_all_outputs()`; also `get_batch_id()`, `get_job_directory()`, `get_output()`. Every
    setting is validated before the first request; the first request registers the batch's
    job definition. Use it as a context manager: on exit it stops submitting and, unless another
    process may still submit to the batch, deregisters the definition (on error too). Every
    public method raises only `PcrError`s (and the caller's own exceptions from callbacks, and
    KeyboardInterrupt).

    Several processes may share a batch (see docs/reliability.md): the one that starts it, any
    number that `attach` to watch it, and one at a time that reruns its failures (it holds the
    batch's rerun lease). Each process that may submit keeps a session in the batch's manifest,
    renewed by a heartbeat thread; the job definition is deregistered by whoever sees every
    session closed (or stale) and every job finished.
    """

    def __init__(
        self,
        batch_name: str,
        job_queue: str,
        container: str,
        job_bucket: str,
        memory_in_mb: int = 1024,
        aws_region: str | None = None,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        timeout_in_hours: float = 20,
        polling_interval_seconds: float = POLL_INTERVAL_SECONDS,
        request_throttling_milliseconds: float = REQUEST_SPACING_MS,
        *,
        vcpus: int = 4,
        gpus: int = 1,
        retry_attempts: int | None = None,
        retry: RetryPolicy | None = None,
        environment: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        job_role_arn: str | None = None,
        platform: Literal["EC2", "FARGATE"] = "EC2",
        execution_role_arn: str | None = None,
        session: boto3.Session | None = None,
        clients: AwsClients | None = None,
        governor: RateGovernor | None = None,
        io_workers: int = IO_WORKERS,
        cancel_on_error: bool = False,
        adaptive_polling: bool = False,
        expiry_seconds: float = EXPIRY_SECONDS,
        lost_answer_settle_seconds: float = LOST_ANSWER_SETTLE_SECONDS,
        expected_bucket_owner: str | None = None,
        encryption: S3Encryption | None = None,
        stale_after_seconds: float = STALE_AFTER_SECONDS,
        progress: ProgressReporter | None = None,
        seams: Seams = REAL,
    ) -> None:
        """Validate every setting, build the clients, register the batch's job definition and
        open this process's session in the batch's manifest.

        The positional arguments are the seed's, in the seed's order; everything after them is
        keyword-only.

        Args:
            batch_name: a letter or digit, then letters, digits, `-` or `_`; at most 90. The
                batch id is `<batch_name>_<uuid4>`.
            job_queue: the AWS Batch job queue (name or ARN) the jobs go to.
            container: the image every job runs.
            job_bucket: the S3 bucket for the jobs' inputs, outputs and the batch's manifest.
            memory_in_mb: memory per job, in MiB.
            aws_region: the region of the queue and bucket (default: the configured one).
            aws_access_key_id: explicit credentials (default: boto3's credential chain).
            aws_secret_access_key: with `aws_access_key_id`; held as a `SecretStr`.
            timeout_in_hours: each job attempt's time limit (at least 60 s).
            polling_interval_seconds: the pause between two polls of a wait.
            request_throttling_milliseconds: the spacing between two poll requests.
            vcpus: vCPUs per job (the seed's 4).
            gpus: GPUs per job (the seed's 1; 0 for CPU-only queues).
            retry_attempts: attempts per job, a shorthand for `retry=RetryPolicy(attempts=n)`.
            retry: which failures AWS Batch retries (see `RetryPolicy`).
            environment: extra environment variables of every job.
            tags: extra tags of the job definition (the `aws:` and `pcr:` prefixes are reserved).
            job_role_arn: the IAM role the jobs' containers run with.
            platform: `"EC2"` or `"FARGATE"` (which then needs `execution_role_arn`, and a
                `memory_in_mb` Fargate supports for `vcpus`: 2048 to 8192 for 1 vCPU, ...).
            execution_role_arn: the ECS execution role of Fargate jobs.
            session: the boto3 session to make the clients from.
            clients: ready-made Batch, S3 and CloudWatch Logs clients (instead of `session`).
            governor: the SubmitJob rate governor (default: one per region and endpoint,
                shared by the process, 40 calls a second).
            io_workers: threads for uploads and output downloads.
            cancel_on_error: when the `with` block raises, terminate the unfinished jobs.
            adaptive_polling: poll soon after a change, back off while nothing changes.
            expiry_seconds: how far apart two polls must miss a job before it is EXPIRED.
            lost_answer_settle_seconds: the wait before a second look for a job whose
                SubmitJob answer was lost.
            expected_bucket_owner: the 12-digit account every S3 call expects to own the bucket.
            encryption: server-side encryption of every object written (`S3Encryption`).
            stale_after_seconds: a session (a process that may submit to the batch) or a rerun
                lease not renewed for this long counts as ended (at least 10; live ones are
                renewed ten times as often).
            progress: where progress goes (default: `PrintProgress`, the seed's lines on
                stdout; `SilentProgress()` for none).
            seams: the clock, sleep, random numbers and UUIDs to run on (`Seams`), for tests.

        Raises:
            InvalidBatchNameError: `batch_name` breaks the rule above.
            InvalidJobSpecError: the job definition breaks an AWS Batch limit.
            PcrInputError: any other setting is out of range, or no region is configured.
            AwsError: registering the job definition, or writing the session, failed (e.g.
                `AccessDeniedError`, `CredentialsError`, `AwsConnectionError`); nothing is
                left registered.
        """
        # 1. every setting, validated; no client exists yet
        settings = batch_settings(
            job_queue, job_bucket, polling_interval_seconds, request_throttling_milliseconds,
            adaptive_polling=adaptive_polling, expiry_seconds=expiry_seconds,
            lost_answer_settle_seconds=lost_answer_settle_seconds, io_workers=io_workers,
            cancel_on_error=cancel_on_error, expected_bucket_owner=expected_bucket_owner,
            encryption=encryption, stale_after_seconds=stale_after_seconds,
        )  # fmt: skip
        _check_collaborators(seams, progress)
        batch_id = BatchId.new(batch_name, seams.uuid_factory)
        spec = JobDefinitionSpec.build(
            image=container, vcpus=vcpus, memory_mib=memory_in_mb, gpus=gpus,
            timeout_seconds=_hours_to_seconds(timeout_in_hours),
            **retry_fields(retry_attempts, retry), environment=_mapping("environment", environment),
            tags=_mapping("tags", tags), job_role_arn=job_role_arn, platform=platform,
            execution_role_arn=execution_role_arn,
        )  # fmt: skip
        aws = build(AwsSettings, region=aws_region, access_key_id=aws_access_key_id,
                    secret_access_key=aws_secret_access_key)  # fmt: skip
        del aws_secret_access_key
        # 2. clients (built, nothing sent), then the services
        clients = clients_for(aws, session=session, clients=clients)
        governor = governor_for(clients.batch, governor)
        lost = lost_answer_policy(settings, clients, seams)
        registry = BatchRegistry(clients.batch, batch_id, spec, governor=governor,
                                 lost_answers=lost)  # fmt: skip
        self._adopt(assemble(settings, registry, clients, governor, lost, progress, seams))
        self._attached = False
        # 3. the first requests: the definition, then the session that keeps the batch open
        adopt_definition(self._submitter, self._manifest, registry.register())
        try:
            self._presence.session.open(CREATOR)
        except BaseException:
            registry.deregister()
            raise

    def _adopt(self, parts: Parts) -> None:
        self._parts = parts
        self.batch_id: BatchId = parts.batch_id
        """The batch's id, `<batch_name>_<uuid4>` (what `get_batch_id()` returns as a string)."""
        self.clients: AwsClients = parts.clients
        """The Batch, S3 and CloudWatch Logs clients the batch uses."""
        self.job_queue: str = parts.settings.job_queue
        """The job queue (name or ARN) the jobs go to."""
        self.job_bucket: str = parts.settings.store.bucket
        """The bucket of the jobs' inputs, outputs and the batch's manifest."""
        self._registry, self._layout, self._store = parts.registry, parts.layout, parts.store
        self._submitter, self._manifest, self._log_reader = (
            parts.submitter, parts.manifest, parts.log_reader)  # fmt: skip
        self._progress, self._io_workers = parts.progress, parts.settings.store.io_workers
        self._cancel_on_error = parts.settings.cancel_on_error
        self._ledger, self._results = parts.ledger, parts.results
        self._submission, self._watch, self._rerun = parts.submission, parts.watch, parts.rerun
        self._presence, self._follower, self._clock = (
            parts.presence,
            parts.follower,
            parts.seams.clock,
        )

    @classmethod
    def attach(  # noqa: DOC101, DOC103 - "as for `JobSubmitter.__init__`"
        cls,
        batch_id: str,
        *,
        job_queue: str,
        job_bucket: str,
        aws_region: str | None = None,
        session: boto3.Session | None = None,
        clients: AwsClients | None = None,
        polling_interval_seconds: float = POLL_INTERVAL_SECONDS,
        request_throttling_milliseconds: float = REQUEST_SPACING_MS,
        governor: RateGovernor | None = None,
        **options: Unpack[SubmitterOptions],
    ) -> JobSubmitter:
        """A JobSubmitter for a batch another process started, rebuilt from S3 and AWS Batch.

        The jobs come from the batch's manifest in the bucket, plus any that only AWS Batch
        still shows (found by the batch's job name and `pcr:index` tags); the job definition
        by the batch id. Nothing is sent before every setting is valid, and nothing is ever
        submitted by attaching.

        Args:
            batch_id: the batch's id, `<name>_<uuid4>` (`get_batch_id()` of the first process).
            job_queue: the queue its jobs went to.
            job_bucket: the bucket that holds its manifest.

        The other arguments (`aws_region`, `session`, `clients`, `polling_interval_seconds`,
        `request_throttling_milliseconds`, `governor` and the keyword-only settings in
        `options`: `io_workers`, `progress`, `seams`, ...) are as for `JobSubmitter.__init__`.

        Returns:
            A submitter that knows the batch's jobs; its waits and outputs work as in the first
            process.

        Raises:
            InvalidBatchNameError: `batch_id` is not `<name>_<uuid4>`.
            BatchClosedError: AWS Batch has no job definition of that batch (never registered,
                or long gone).
            ManifestError: a manifest chunk is not pcr-sdk's (`ManifestVersionError`: it was
                written by a newer pcr-sdk).
            PcrInputError: a setting is out of range.
            AwsError: reading AWS Batch or S3 failed.
        """
        parsed = BatchId.parse(batch_id)
        settings = batch_settings(job_queue, job_bucket, polling_interval_seconds,
                                  request_throttling_milliseconds, **options)  # fmt: skip
        seams = options.get("seams", REAL)
        _check_collaborators(seams, options.get("progress"))
        aws = build(AwsSettings, region=aws_region)
        clients = clients_for(aws, session=session, clients=clients)
        governor = governor_for(clients.batch, governor)
        lost = lost_answer_policy(settings, clients, seams)
        registry = BatchRegistry.find(clients.batch, parsed, governor=governor, lost_answers=lost)
        submitter = cls.__new__(cls)
        submitter._adopt(assemble(settings, registry, clients, governor, lost,
                                  options.get("progress"), seams))  # fmt: skip
        submitter._attached = True
        if not registry.closed:
            adopt_definition(submitter._submitter, submitter._manifest, registry.register())
        recovered = reattach(submitter._parts)
        logger.info("attached to %s: %d jobs (%d found only in AWS Batch)", parsed,
                    len(submitter._ledger), recovered)  # fmt: skip
        return submitter

    # -- the seed's API -------------------------------------------------------------------

    def submit_job(
        self,
        input_data: JobInput,
        depends_on_job_ids: Sequence[str] | None = None,
        callback: Callable[[], object] | None = None,
    ) -> str:
        """Write `input_data` (JSON data, or a pydantic model) as the job's config.json and
        submit the job; return its job id. `callback` (no arguments) runs once, when a wait or
        `as_completed` sees the job finished.

        Args:
            input_data: the job's input: JSON data (`JsonValue`: mappings, sequences, str,
                numbers but NaN and Infinity, bools, None), or a pydantic model; see
                `JobInput`.
            depends_on_job_ids: jobs of this batch that must finish first (at most 20).
            callback: called once, without arguments, when the job has finished.

        Returns:
            The job's AWS Batch job id.

        Raises:
            InvalidJobSpecError: the input cannot be serialized, or breaks an AWS limit.
            UnknownDependencyError: a dependency is not a job of this batch.
            BatchClosedError: the batch was closed (a wait, `close()` or `cancel()` ended it).
            AwsError: writing the input or SubmitJob failed (e.g. `JobQueueNotFoundError`,
                `BucketNotFoundError`).
        """
        return self._submission.one(JobSpec.of(input_data, depends_on_job_ids), callback)

    def submit_jobs(
        self,
        inputs: Iterable[JobInput],
        *,
        array: bool = True,
        depends_on_job_ids: Sequence[str] | None = None,
    ) -> list[str]:
        """Submit one job per input (JSON data or pydantic models), in order; return the ids.

        `array=True` (default) sends up to 10,000 inputs as one array job: one packed S3 object
        and one SubmitJob per 10,000 jobs, child ids `<array id>:<i>`; its workers must read
        their input with `pcr_sdk.worker`. `array=False` writes each job's config.json and
        submits the jobs concurrently, up to the governor's rate; an error or Ctrl-C stops it
        starting more (every job that went out is kept). Every job (for an array: its parent)
        depends on `depends_on_job_ids`.

        Args:
            inputs: the jobs' inputs, as for `submit_job`.
            array: send them as array jobs (a few calls per 10,000) rather than one by one.
            depends_on_job_ids: jobs of this batch that every new job waits for.

        Returns:
            The new jobs' ids, in input order (`<array id>:<i>` for array children).

        Raises:
            InvalidJobSpecError: an input cannot be serialized (the error names `input i`).
            UnknownDependencyError: a dependency is not a job of this batch.
            BatchClosedError: the batch was closed.
            AwsError: an upload or a SubmitJob failed; the jobs that went out are kept.
        """
        return self._submission.many(CheckedInputs.check(inputs, depends_on_job_ids), array=array)

    def resubmit_failed(
        self, *, kinds: Iterable[FailureKind | FailureKindValue] | None = None
    ) -> list[str]:
        """Rerun the FAILED jobs (and EXPIRED ones without an output) at their indexes; the new
        ids, in index order. `kinds`: only those failure kinds (dependents follow their
        dependencies). A closed batch reopens until the next wait or close. Array children need
        workers of contract 2. Nothing failed: nothing happens. See docs/rerun.md.

        One process reruns a batch at a time: this takes the batch's rerun lease (and holds it
        until this process's next wait, `close()`, `cancel()` or `detach()`), then reads what
        other processes did before deciding what failed.

        Args:
            kinds: rerun only the jobs that failed with one of these `FailureKind`s or their
                values (e.g. `{"timeout"}` or `{FailureKind.TIMEOUT}`; not
                "dependency-failed"); default: every failed job.

        Returns:
            The new jobs' ids, in index order ([] when nothing failed).

        Raises:
            PcrInputError: `kinds` is empty or names something that is not a failure kind.
            RerunLeaseHeldError: another process holds the batch's rerun lease (it names the
                holder and until when).
            AwsError: an upload or a SubmitJob failed.
        """
        return self._rerun.run(failure_kinds(kinds))

    def plan_rerun(
        self, *, kinds: Iterable[FailureKind | FailureKindValue] | None = None
    ) -> list[JobResult]:
        """What `resubmit_failed(kinds=kinds)` would rerun now, without rerunning anything: the
        results of those jobs, in index order (their `failure` says why each failed). Asks AWS
        Batch only about jobs whose final state is not known yet; nothing is sent or written.

        Args:
            kinds: as for `resubmit_failed`.

        Returns:
            The results of the jobs a rerun would replace ([] when nothing failed).

        Raises:
            PcrInputError: `kinds` is empty or names something that is not a failure kind.
            AwsError: DescribeJobs or ListJobs failed.
        """
        jobs = self._rerun.plan(failure_kinds(kinds))
        return self._results.results([job.job_id for job in jobs])

    def wait_until_jobs_finished(self, *, timeout: float | None = None) -> None:
        """Poll until the batch is over, then deregister the job definition.

        The batch is over when every job has finished and nobody may submit any more: this
        process stops submitting once its jobs finished and no callback runs (it waits for the
        jobs callbacks submit, too); a batch other processes share is followed until each of
        them stopped (or stopped renewing its session: see `stale_after_seconds`), with the
        jobs they add. Progress goes to the progress reporter (stdout by default). However the
        wait ends (Ctrl-C and timeouts included) this process stops submitting, and the
        definition is deregistered unless another process may still submit.

        Args:
            timeout: seconds to wait at most (default: no limit): a deadline for the whole
                wait, which no request and no pause goes past.

        Raises:
            PcrInputError: `timeout` is negative, NaN or infinite.
            WaitTimeoutError: `timeout` ran out; it names the unfinished jobs and says how long
                the wait took.
            AwsError: polling failed beyond botocore's retries (`CredentialsExpiredError`
                names the batch and how to resume it).
        """
        timeout = timeout_seconds(timeout)
        started = self._clock()
        try:
            self._manifest.flush()
            self._watch.wait(self._progress, timeout, started)
        finally:
            self._end()

    def get_all_outputs(self) -> list[str | None]:
        """Every job's output JSON string in submission order; None for a job that FAILED (or
        EXPIRED with no output) or whose output cannot be read. Jobs whose state is unknown
        (after attach) are asked about first, 100 ids a call; outputs are read concurrently.

        Returns:
            One entry per job, in submission (index) order.

        Raises:
            AwsError: DescribeJobs or S3 failed (e.g. `AccessDeniedError`; a missing output is
                None instead).
        """
        return self._results.outputs(self._store, self._io_workers)

    def get_batch_id(self) -> str:
        """The batch id: the S3 prefix's and the job definition's name.

        Returns:
            `<batch_name>_<uuid4>`.
        """
        return str(self.batch_id)

    def get_job_directory(self, job_id: str) -> str:
        """The S3 prefix under which job `job_id` keeps its data.

        Args:
            job_id: a job of this batch.

        Returns:
            The key prefix (in `job_bucket`) of the job's config.json and output.json.

        Raises:
            JobNotFoundError: `job_id` is not a job of this batch.
        """
        return self._layout.prefix(self._ledger.job(job_id).index)

    def get_output(self, job_id: str) -> str:
        """Whatever output.json S3 holds for `job_id`, whatever its status (for debugging).

        Args:
            job_id: a job of this batch.

        Returns:
            The output.json's text, unparsed.

        Raises:
            JobNotFoundError: `job_id` is not a job of this batch.
            OutputNotFoundError: there is no output.json (yet).
            OutputMalformedError: output.json is not UTF-8.
            AwsError: reading it failed otherwise.
        """
        return self._store.get_output_text(self._ledger.job(job_id).index, job_id=job_id)

    # -- beyond the seed ------------------------------------------------------------------

    @property
    def spec(self) -> JobDefinitionSpec:
        """What the batch's job definition asks of AWS Batch: image, resources, retry policy."""
        return self._registry.spec

    @property
    def layout(self) -> BatchLayout:
        """Where the batch's objects live in `job_bucket` (inputs, outputs, manifest)."""
        return self._layout

    @property
    def closed(self) -> bool:
        """The batch takes no more jobs: its job definition is deregistered (or going)."""
        return self._registry.closed

    @property
    def jobs(self) -> tuple[SubmittedJob, ...]:
        """Each index's current job (its newest attempt), in index (submission) order."""
        return self._ledger.jobs

    def as_completed(self, *, timeout: float | None = None) -> Iterator[JobResult]:
        """Each job's result, `output` attached, as soon as a poll sees it finished: every job
        submitted before the call, once. Callbacks run once per job, here or in a wait. Breaking
        out leaves the batch running and open (a later wait waits for the rest); `timeout`
        raises `WaitTimeoutError`. See docs/as-completed.md.

        Args:
            timeout: seconds to wait at most for all of them (default: no limit).

        Returns:
            An iterator of each job's result, in the order the polls see them finish.

        Raises:
            PcrInputError: `timeout` is negative, NaN or infinite.
            WaitTimeoutError: `timeout` ran out; it names the unfinished jobs.
            AwsError: polling or reading an output failed.
        """
        jobs = self._watch.as_completed(self._store, self._io_workers, self._progress,
                                        timeout_seconds(timeout))  # fmt: skip
        return _hinted_iterator(self, jobs)

    def get_outputs(self, model: type[M]) -> list[M | None]:
        """`get_all_outputs()` validated as pydantic `model`.

        Args:
            model: the pydantic model of the jobs' output.

        Returns:
            One entry per job, in submission order; None where `get_all_outputs()` has None.

        Raises:
            OutputMalformedError: an output does not validate (it names the job's id and index).
            AwsError: DescribeJobs or S3 failed.
        """
        return self._results.typed_outputs(self._store, self._io_workers, model)

    def get_result(self, job_id: str) -> JobResult:
        """Job `job_id`'s status, reason, exit code, attempts, failure kind and times; what the
        last poll or bulk call learned, else one DescribeJobs.

        Args:
            job_id: a job of this batch.

        Returns:
            The job's `JobResult`, without its output.

        Raises:
            JobNotFoundError: `job_id` is not a job of this batch.
            AwsError: DescribeJobs failed.
        """
        return self._results.result(job_id)

    def get_results(self, job_ids: Sequence[str] | None = None) -> list[JobResult]:
        """Results of `job_ids` (default: every job, in index order) in few calls: 100 ids a
        DescribeJobs, an array's children through ListJobs pages; known results are reused.

        Args:
            job_ids: jobs of this batch (default: every job).

        Returns:
            One result per id, in the order of `job_ids` (index order by default).

        Raises:
            JobNotFoundError: an id is not a job of this batch.
            AwsError: DescribeJobs or ListJobs failed.
        """
        return self._results.results(job_ids)

    def get_output_json(self, job_id: str) -> Any:
        """Job `job_id`'s output, parsed.

        Args:
            job_id: a job of this batch.

        Returns:
            The output.json's JSON value.

        Raises:
            JobNotFoundError: `job_id` is not a job of this batch.
            OutputNotFoundError: there is no output.json (yet).
            OutputMalformedError: output.json is not UTF-8 JSON.
            AwsError: reading it failed otherwise.
        """
        return self._store.get_output(self._ledger.job(job_id).index, job_id=job_id)

    def logs(self, job_id: str, *, tail: int = 50) -> list[str]:
        """The last `tail` lines job `job_id` wrote (CloudWatch Logs; [] before it started).

        Args:
            job_id: a job of this batch.
            tail: how many lines, at most.

        Returns:
            The log messages, oldest first.

        Raises:
            JobNotFoundError: `job_id` is not a job of this batch.
            AwsError: DescribeJobs or CloudWatch Logs failed.
        """
        stream = self._results.detailed(job_id).log_stream_name
        return [] if stream is None else self._log_reader.tail(stream, tail)

    def cancel(
        self,
        reason: str = "Cancelled by pcr-sdk",
        *,
        wait: bool = True,
        timeout: float | None = 300,
    ) -> dict[str, JobResult]:
        """Stop submitting, terminate every unfinished job, deregister; return those jobs'
        results. Only jobs this call stopped are reported TERMINATED (or CANCELLED); a job
        that failed on its own keeps its own failure. An array is terminated through its
        parent. With `wait`, polls until the stopped jobs finished (or `timeout` runs out).

        Args:
            reason: recorded by AWS Batch on every job it stops (not empty).
            wait: poll until the stopped jobs have finished.
            timeout: seconds to poll at most, with `wait`.

        Returns:
            The results of the jobs this call stopped, by job id.

        Raises:
            PcrInputError: `reason` is empty, or `timeout` is negative.
            AwsError: a CancelJob, TerminateJob or poll failed; the batch is closed anyway.
        """
        if not reason:
            raise PcrInputError("cancel needs a reason (AWS Batch records it on every job)")
        timeout = timeout_seconds(timeout)
        self._ledger.close()
        try:
            return self._watch.cancel(reason, self._progress, wait=wait, timeout=timeout)
        finally:
            self._end()

    def close(self) -> None:
        """Stop taking jobs (waiting for submissions under way), flush the manifest, close this
        process's session (and release the rerun lease), and deregister the job definition
        unless another process may still submit (that one's end deregisters it). Once all of it
        succeeded, later calls do nothing; after a failure, call it again."""
        self._end()

    def detach(self) -> None:
        """Stop submitting and leave the batch running: flush the manifest, close this
        process's session (and release the rerun lease). The definition stays for the jobs
        (unless nobody may submit and every job is known finished): whoever later sees the
        batch over deregisters it (`pcr wait`, or an attached `JobSubmitter`'s wait).

        Raises:
            AwsError: flushing the manifest or writing the session's end failed; call it again.
        """
        self._end(unfinished_too=False)

    def rerun_lease(self) -> RerunLease | None:
        """The batch's rerun lease as its bucket holds it now (one listing, one read).

        Returns:
            The lease (held or released, expired or not, by S3's clock), or None if the
            batch was never rerun.

        Raises:
            AwsError: S3 could not be read.
        """
        return self._presence.lease.look()

    def break_rerun_lease(self, lease: RerunLease) -> bool:
        """Release `lease` on behalf of its holder, who stopped renewing it (a process that
        died): only if it is still the version `rerun_lease()` returned. Its holder, if alive,
        notices at its next renewal and reruns nothing more.

        Args:
            lease: what `rerun_lease()` returned.

        Returns:
            Whether it was broken (False: it changed since it was read).

        Raises:
            PcrInputError: `lease` is not a `RerunLease`.
            AwsError: S3 could not be written.
        """
        if not isinstance(lease, RerunLease):
            raise PcrInputError(f"lease must be a RerunLease, not {type(lease).__name__}")
        return self._presence.lease.break_lease(lease, by=holder_name())

    def _end(self, *, unfinished_too: bool = True) -> None:
        """Stop submitting, then deregister the definition if nobody else may submit (and,
        unless `unfinished_too`, every job is known finished)."""
        try:
            self._ledger.close()
            self._manifest.flush()
        finally:
            try:
                self._presence.stop()
            finally:
                self._deregister_if_over(unfinished_too=unfinished_too)

    def _deregister_if_over(self, *, unfinished_too: bool) -> None:
        registry = self._registry
        if registry.deregistered:
            return
        try:
            state = self._follower.look()
        except AwsError:
            registry.close()
            raise
        if not state.closed or (not unfinished_too and self._ledger.unfinished()):
            registry.close()
            if not state.closed:
                logger.info("batch %s: %d other process(es) may still submit; the definition "
                            "stays for them", self.batch_id, len(state.live))  # fmt: skip
            return
        if self._attached or self._follower.book.seen_others:
            registry.deregister_active()  # another process may have registered a revision
        else:
            registry.deregister()

    def __enter__(self) -> JobSubmitter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is not None and self._cancel_on_error and len(self._ledger):
                self.cancel(f"pcr-sdk: {exc_type.__name__} in the submitting process", wait=False)
        finally:
            self.close()

    def __repr__(self) -> str:
        return (
            f"JobSubmitter(batch_id={str(self.batch_id)!r}, job_queue={self.job_queue!r}, "
            f"job_bucket={self.job_bucket!r}, jobs={len(self._ledger)})"
        )


def _check_collaborators(seams: object, progress: object) -> None:
    """`seams` is a `Seams` and `progress` None or a reporter, else `PcrInputError` (before
    anything uses them)."""
    if not isinstance(seams, Seams):
        raise PcrInputError(f"seams must be a Seams, not {type(seams).__name__}")
    if progress is not None and not callable(getattr(progress, "on_progress", None)):
        raise PcrInputError(
            f"progress must be a ProgressReporter (with on_progress), not {type(progress).__name__}"
        )


def _hours_to_seconds(hours: object) -> int:
    """`timeout_in_hours` in whole seconds; `InvalidJobSpecError` if not a finite number of
    seconds (1e308 hours overflowed)."""
    value = seconds("timeout_in_hours", hours) * 3600
    if not math.isfinite(value):
        raise InvalidJobSpecError(f"timeout_in_hours={hours!r} is too large", field="timeout")
    return round(value)


def _mapping(name: str, value: object) -> dict[str, Any]:
    """`environment` or `tags` as a dict (None: empty); `InvalidJobSpecError` if not a mapping
    (`['A']` raised a raw ValueError)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidJobSpecError(f"{name} must be a mapping of names to values, not "
                                  f"{type(value).__name__}", field=name)  # fmt: skip
    return dict(value)
