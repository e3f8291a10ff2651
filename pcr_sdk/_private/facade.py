"""JobSubmitter: the seed's API, composed of BatchRegistry, InputStore, Submitter and Poller."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any, Literal

import boto3
from pydantic import SecretStr

from pcr_sdk._private.clients import AwsClients
from pcr_sdk._private.contract import BatchLayout
from pcr_sdk._private.discovery import find_batch_jobs
from pcr_sdk._private.errors import (
    BatchClosedError,
    JobNotFoundError,
    OutputError,
    PcrInputError,
    UnknownDependencyError,
    WaitTimeoutError,
)
from pcr_sdk._private.governor import (
    DEFAULT_BATCH_RATE,
    Clock,
    RateGovernor,
    Sleep,
    shared_batch_governor,
)
from pcr_sdk._private.logs import LogReader
from pcr_sdk._private.manifest import ArrayRecord, BatchRecord, Manifest
from pcr_sdk._private.models import (
    BatchId,
    FailureKind,
    JobDefinitionSpec,
    JobResult,
    JobSpec,
    JobState,
    JobStatus,
    S3Encryption,
    SubmittedJob,
)
from pcr_sdk._private.poller import Poller
from pcr_sdk._private.progress import PrintProgress, ProgressReporter
from pcr_sdk._private.registry import BatchRegistry
from pcr_sdk._private.store import InputStore
from pcr_sdk._private.submitter import MAX_ARRAY_SIZE, Submitter

logger = logging.getLogger("pcr_sdk")

DEFAULT_IO_WORKERS = 16


class JobSubmitter:
    """Starts a batch of jobs on AWS Batch (or any backend behind `clients`).

    The seed's API, unchanged: instantiate, `submit_job()`, `wait_until_jobs_finished()`,
    `get_all_outputs()`; also `get_batch_id()`, `get_job_directory()`, `get_output()`.
    New and keyword-only: injected `session` or `clients`, `vcpus`/`gpus`, `get_result()`, and
    use as a context manager, which deregisters the job definition on exit, on error too.
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
        polling_interval_seconds: float = 60,
        request_throttling_milliseconds: float = 200,
        *,
        vcpus: int = 4,
        gpus: int = 1,
        retry_attempts: int = 1,
        environment: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        job_role_arn: str | None = None,
        platform: Literal["EC2", "FARGATE"] = "EC2",
        execution_role_arn: str | None = None,
        session: boto3.Session | None = None,
        clients: AwsClients | None = None,
        governor: RateGovernor | None = None,
        io_workers: int = DEFAULT_IO_WORKERS,
        cancel_on_error: bool = False,
        adaptive_polling: bool = False,
        expected_bucket_owner: str | None = None,
        encryption: S3Encryption | None = None,
        progress: ProgressReporter | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        uuid_factory: Callable[[], uuid.UUID] = uuid.uuid4,
    ) -> None:
        # Everything is validated before the first client exists or any request goes out.
        batch_id = BatchId.new(batch_name, uuid_factory)
        spec = JobDefinitionSpec.build(
            image=container,
            vcpus=vcpus,
            memory_mib=memory_in_mb,
            gpus=gpus,
            timeout_seconds=round(timeout_in_hours * 3600),
            retry_attempts=retry_attempts,
            environment=dict(environment or {}),
            tags=dict(tags or {}),
            job_role_arn=job_role_arn,
            platform=platform,
            execution_role_arn=execution_role_arn,
        )
        if not job_queue or not job_bucket:
            raise PcrInputError("job_queue and job_bucket must not be empty")
        if clients is not None and (
            session is not None or aws_access_key_id or aws_secret_access_key
        ):
            raise PcrInputError("pass either clients, or a session / credentials, not both")
        if clients is None:
            # the secret lives only as a SecretStr until boto3 takes it: never in our attributes,
            # reprs, logs or errors
            secret = SecretStr(aws_secret_access_key) if aws_secret_access_key else None
            session = session or boto3.Session(
                aws_access_key_id=aws_access_key_id,
                aws_secret_access_key=secret.get_secret_value() if secret else None,
                region_name=aws_region,
            )
            del secret, aws_secret_access_key
            clients = AwsClients.from_session(session, region_name=aws_region)

        governor = _governor(governor, clock, sleep)
        registry = BatchRegistry(clients.batch, batch_id, spec, governor=governor)
        registry.register()
        self._setup(
            batch_id,
            registry,
            clients,
            job_queue=job_queue,
            job_bucket=job_bucket,
            polling_interval_seconds=polling_interval_seconds,
            request_throttling_milliseconds=request_throttling_milliseconds,
            governor=governor,
            io_workers=io_workers,
            adaptive_polling=adaptive_polling,
            expected_bucket_owner=expected_bucket_owner,
            encryption=encryption,
            progress=progress,
            clock=clock,
            sleep=sleep,
        )
        self.cancel_on_error = cancel_on_error

    @classmethod
    def attach(
        cls,
        batch_id: str,
        *,
        job_queue: str,
        job_bucket: str,
        aws_region: str | None = None,
        session: boto3.Session | None = None,
        clients: AwsClients | None = None,
        polling_interval_seconds: float = 60,
        request_throttling_milliseconds: float = 200,
        governor: RateGovernor | None = None,
        io_workers: int = DEFAULT_IO_WORKERS,
        adaptive_polling: bool = False,
        expected_bucket_owner: str | None = None,
        encryption: S3Encryption | None = None,
        progress: ProgressReporter | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> JobSubmitter:
        """A JobSubmitter for a batch another process started, rebuilt from AWS Batch.

        The jobs are found by the batch's job name and their `pcr:index` tags (AWS Batch shows
        finished jobs for about a day); the job definition by the batch id.
        """
        parsed = BatchId.parse(batch_id)
        if clients is None:
            clients = AwsClients.from_session(session, region_name=aws_region)
        governor = _governor(governor, clock, sleep)
        self = cls.__new__(cls)
        self._setup(
            parsed,
            BatchRegistry.find(clients.batch, parsed, governor=governor),
            clients,
            job_queue=job_queue,
            job_bucket=job_bucket,
            polling_interval_seconds=polling_interval_seconds,
            request_throttling_milliseconds=request_throttling_milliseconds,
            governor=governor,
            io_workers=io_workers,
            adaptive_polling=adaptive_polling,
            expected_bucket_owner=expected_bucket_owner,
            encryption=encryption,
            progress=progress,
            clock=clock,
            sleep=sleep,
        )
        self._reattach(governor)
        return self

    def _reattach(self, governor: RateGovernor) -> None:
        """Rebuild the job list from the manifest, then add what only AWS Batch knows."""
        loaded = Manifest.load(self.store)
        for job in loaded.all_jobs():
            self._record(job)
        in_manifest = set(self._arrays)
        known = {job.index: job.job_id for job in self._jobs.values()}
        found = find_batch_jobs(
            self.clients.batch,
            job_queue=self.job_queue,
            batch_id=str(self._batch_id),
            governor=governor,
        )
        recovered = 0
        for job, state in found:
            if job.index in known and known[job.index] != job.job_id:
                logger.warning(
                    "job %d of %s: manifest says %s, AWS Batch also has %s; keeping the manifest's",
                    job.index, self._batch_id, known[job.index], job.job_id,
                )  # fmt: skip
                continue
            if job.index not in known:
                self._record(job)
                if job.array_id is None:
                    self.manifest.add(job)
                recovered += 1
            if state is not None:
                self._states[job.job_id] = state
        for array_id in {j.array_id for j, _ in found if j.array_id} - in_manifest:
            children = [j for j, _ in found if j.array_id == array_id]
            base = min(c.index for c in children)
            self.manifest.add_array(
                ArrayRecord(array_id, base, len(children), children[0].depends_on)
            )
        self.manifest.flush()
        logger.info(
            "attached to %s: %d jobs (%d from the manifest, %d found only in AWS Batch)",
            self._batch_id, len(self._jobs), len(self._jobs) - recovered, recovered,
        )  # fmt: skip

    def _setup(
        self,
        batch_id: BatchId,
        registry: BatchRegistry,
        clients: AwsClients,
        *,
        job_queue: str,
        job_bucket: str,
        polling_interval_seconds: float,
        request_throttling_milliseconds: float,
        governor: RateGovernor,
        io_workers: int,
        adaptive_polling: bool,
        expected_bucket_owner: str | None,
        encryption: S3Encryption | None,
        progress: ProgressReporter | None,
        clock: Clock,
        sleep: Sleep,
    ) -> None:
        if io_workers < 1:
            raise PcrInputError(f"io_workers must be >= 1, got {io_workers}")
        self._batch_id = batch_id
        self.clients = clients
        self.job_queue = job_queue
        self.job_bucket = job_bucket
        self.layout = BatchLayout(str(batch_id))
        self.progress: ProgressReporter = progress if progress is not None else PrintProgress()
        self.registry = registry
        self.store = InputStore(
            clients.s3,
            job_bucket,
            self.layout,
            expected_bucket_owner=expected_bucket_owner,
            encryption=encryption,
        )
        self.poller = Poller(
            clients.batch,
            polling_interval_seconds=polling_interval_seconds,
            request_throttling_milliseconds=request_throttling_milliseconds,
            governor=governor,
            adaptive=adaptive_polling,
            clock=clock,
            sleep=sleep,
        )
        self.io_workers = io_workers
        self.manifest = Manifest(
            self.store, BatchRecord(str(batch_id), job_queue, job_bucket, registry.reference)
        )
        self.cancel_on_error = False
        self.log_reader = LogReader(clients.logs)
        self._jobs: dict[str, SubmittedJob] = {}
        self._arrays: set[str] = set()  # ids of the array parents
        self._terminated: set[str] = set()  # jobs and arrays this process terminated
        self._next_index = 0
        self._callbacks: dict[str, Callable[[], object]] = {}
        self._states: dict[str, JobState] = {}
        self._lock = threading.Lock()
        self.submitter = Submitter(
            clients.batch,
            job_queue=job_queue,
            bucket=job_bucket,
            layout=self.layout,
            job_definition=registry.reference,
            governor=governor,
        )

    # -- the seed's API -------------------------------------------------------------------

    def submit_job(
        self,
        input_data: Any,
        depends_on_job_ids: Sequence[str] | None = None,
        callback: Callable[[], object] | None = None,
    ) -> str:
        """Write `input_data` as the job's config.json and submit the job; return its job id.

        `callback` (no arguments) runs once, during `wait_until_jobs_finished()`, when the job
        has succeeded or failed.
        """
        spec = JobSpec.of(input_data, depends_on_job_ids)
        self._check_open(spec.depends_on)
        index = self._reserve(1)
        self.store.put_input(index, spec)
        job_id = self.submitter.submit(
            index, depends_on=spec.depends_on, timeout_seconds=self.registry.spec.timeout_seconds
        )
        with self._lock:
            job = SubmittedJob(job_id=job_id, index=index, depends_on=spec.depends_on)
            self._record(job)
            if callback is not None:
                self._callbacks[job_id] = callback
        self.manifest.add(job)
        logger.info("batch %s: submitted job %d as %s", self._batch_id, index, job_id)
        return job_id

    def submit_jobs(
        self,
        inputs: Iterable[Any],
        *,
        array: bool = True,
        depends_on_job_ids: Sequence[str] | None = None,
    ) -> list[str]:
        """Submit one job per input, in order; return their job ids.

        `array=True` (default) sends up to 10,000 inputs as one array job: one packed S3 object
        and one SubmitJob per 10,000 jobs, child ids `<array id>:<i>`. Its workers must read their
        input with `pcr_sdk.worker` (children have no config.json). `array=False` writes each
        job's config.json and submits it on its own, concurrently up to the governor's rate: for
        workers that read S3_JOB_CONFIG_KEY themselves. Every job depends on
        `depends_on_job_ids` (for an array: its parent does).
        """
        specs = [JobSpec.of(data, depends_on_job_ids) for data in inputs]
        if not specs:
            return []
        deps = specs[0].depends_on
        self._check_open(deps)
        if array and len(specs) > 1:
            ids: list[str] = []
            for start in range(0, len(specs), MAX_ARRAY_SIZE):
                chunk = specs[start : start + MAX_ARRAY_SIZE]
                ids += self._submit_array(chunk) if len(chunk) > 1 else self._submit_many(chunk)
            return ids
        return self._submit_many(specs)

    def _submit_array(self, specs: Sequence[JobSpec]) -> list[str]:
        base = self._reserve(len(specs))
        self.store.put_packed_inputs(base, specs)
        array_id = self.submitter.submit_array(
            base,
            len(specs),
            depends_on=specs[0].depends_on,
            timeout_seconds=self.registry.spec.timeout_seconds,
        )
        children = [
            SubmittedJob(
                job_id=f"{array_id}:{i}",
                index=base + i,
                depends_on=specs[0].depends_on,
                array_id=array_id,
            )
            for i in range(len(specs))
        ]
        with self._lock:
            self._arrays.add(array_id)
            for child in children:
                self._record(child)
        self.manifest.add_array(ArrayRecord(array_id, base, len(specs), specs[0].depends_on))
        logger.info("batch %s: submitted jobs %d.. as array %s", self._batch_id, base, array_id)
        return [c.job_id for c in children]

    def _submit_many(self, specs: Sequence[JobSpec]) -> list[str]:
        """Per-job submission on the I/O pool; indexes fixed up front, in input order."""
        base = self._reserve(len(specs))
        timeout = self.registry.spec.timeout_seconds

        def one(offset: int) -> str:
            spec = specs[offset]
            self.store.put_input(base + offset, spec)
            return self.submitter.submit(
                base + offset, depends_on=spec.depends_on, timeout_seconds=timeout
            )

        with ThreadPoolExecutor(max_workers=min(self.io_workers, len(specs))) as pool:
            futures = [pool.submit(one, offset) for offset in range(len(specs))]
        ids: list[str] = []
        first_error: BaseException | None = None
        with self._lock:
            for offset, future in enumerate(futures):
                error = future.exception()
                if error is not None:
                    first_error = first_error or error
                    continue
                job = SubmittedJob(future.result(), base + offset, specs[offset].depends_on)
                ids.append(job.job_id)
                self._record(job)
                self.manifest.add(job)
        self.manifest.flush()
        if first_error is not None:
            # the jobs that did go out are recorded above: nothing submitted is forgotten
            raise first_error
        return ids

    def wait_until_jobs_finished(self, *, timeout: float | None = None) -> None:
        """Poll until every job succeeded or failed, then deregister the job definition.

        Progress goes to the progress reporter (stdout by default). The definition is
        deregistered on the way out however the wait ends (Ctrl-C and timeouts included).
        """
        try:
            self.manifest.flush()
            self.poller.wait(
                list(self._jobs),
                arrays=list(self._arrays),
                known=self._states,
                on_finished=self._on_finished,
                on_progress=self.progress.on_progress,
                timeout=timeout,
            )
        finally:
            self.registry.deregister()

    def get_all_outputs(self) -> list[str | None]:
        """Every job's output JSON string in submission order; None where it cannot be read.

        Read on a pool of `io_workers` threads. Only a missing or unreadable output becomes None;
        any other error (access denied, no bucket) is raised.
        """

        def read(job: SubmittedJob) -> str | None:
            try:
                return self.store.get_output_text(job.index, job_id=job.job_id)
            except OutputError as err:
                logger.info("no output for job %s: %s", job.job_id, err)
                return None

        jobs = self.jobs
        if not jobs:
            return []
        with ThreadPoolExecutor(max_workers=min(self.io_workers, len(jobs))) as pool:
            return list(pool.map(read, jobs))

    def get_batch_id(self) -> str:
        """The batch id: the S3 prefix's and the job definition's name."""
        return str(self._batch_id)

    def get_job_directory(self, job_id: str) -> str:
        """The S3 prefix under which job `job_id` keeps its data."""
        return self.layout.prefix(self._job(job_id).index)

    def get_output(self, job_id: str) -> str:
        """Job `job_id`'s output JSON string; `OutputNotFoundError` if it wrote none."""
        job = self._job(job_id)
        return self.store.get_output_text(job.index, job_id=job_id)

    # -- beyond the seed ------------------------------------------------------------------

    @property
    def batch_id(self) -> BatchId:
        return self._batch_id

    @property
    def jobs(self) -> tuple[SubmittedJob, ...]:
        """The submitted jobs in index (submission) order."""
        return tuple(sorted(self._jobs.values(), key=lambda job: job.index))

    def get_result(self, job_id: str) -> JobResult:
        """Job `job_id`'s status, reason, exit code, attempts and log stream."""
        job = self._job(job_id)
        state = self._states.get(job_id)
        if state is None or not state.status.is_finished or state.summary_only:
            state = self.poller.describe([job_id]).get(job_id, state)
            if state is not None:
                self._states[job_id] = state
        return self._result(job, state)

    def get_output_json(self, job_id: str) -> Any:
        """Job `job_id`'s output, parsed: `OutputNotFoundError` or `OutputMalformedError`."""
        job = self._job(job_id)
        return self.store.get_output(job.index, job_id=job_id)

    def logs(self, job_id: str, *, tail: int = 50) -> list[str]:
        """The last `tail` lines job `job_id` wrote (CloudWatch Logs; [] before it started)."""
        result = self.get_result(job_id)
        if result.log_stream_name is None:
            return []
        return self.log_reader.tail(result.log_stream_name, tail)

    def cancel(
        self,
        reason: str = "Cancelled by pcr-sdk",
        *,
        wait: bool = True,
        timeout: float | None = 300,
    ) -> dict[str, JobResult]:
        """Terminate every unfinished job of the batch; return the final results of those jobs.

        TerminateJob stops jobs in any unfinished state (CancelJob would miss STARTING and
        RUNNING ones). An array is terminated through its parent. With `wait`, polls until the
        terminated jobs are FAILED (or `timeout` runs out: then their last known states). The
        job definition is deregistered.
        """
        if not reason:
            raise PcrInputError("cancel needs a reason (AWS Batch records it on every job)")
        unfinished = [
            job
            for job in self.jobs
            if job.job_id not in self._states or not self._states[job.job_id].status.is_finished
        ]
        targets = list(dict.fromkeys(job.array_id or job.job_id for job in unfinished))
        for target in targets:
            self.submitter.terminate(target, reason)
            self._terminated.add(target)
        ids = [job.job_id for job in unfinished]
        if wait and ids:
            try:
                self.poller.wait(
                    ids,
                    arrays=[t for t in targets if t in self._arrays],
                    known=self._states,
                    on_finished=self._on_finished,
                    timeout=timeout,
                )
            except WaitTimeoutError as err:
                logger.warning("cancel: %d job(s) not yet stopped: %s", len(err.unfinished), err)
        self.close()
        return {job.job_id: self._result(job, self._states.get(job.job_id)) for job in unfinished}

    def close(self) -> None:
        """Flush the manifest and deregister the job definition.

        Once both have succeeded later calls do nothing; after a failure, call it again.
        """
        try:
            self.manifest.flush()
        finally:
            self.registry.deregister()

    def __enter__(self) -> JobSubmitter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is not None and self.cancel_on_error and self._jobs:
                self.cancel(f"pcr-sdk: {exc_type.__name__} in the submitting process", wait=False)
        finally:
            self.close()

    def __repr__(self) -> str:
        return (
            f"JobSubmitter(batch_id={str(self._batch_id)!r}, job_queue={self.job_queue!r}, "
            f"job_bucket={self.job_bucket!r}, jobs={len(self._jobs)})"
        )

    # -- internals ------------------------------------------------------------------------

    def _check_open(self, depends_on: Sequence[str]) -> None:
        for dep in depends_on:
            if dep not in self._jobs and dep not in self._arrays:
                raise UnknownDependencyError(
                    f"dependency {dep!r} is not a job of batch {self._batch_id}", job_id=dep
                )
        if self.registry.closed:
            raise BatchClosedError(
                f"batch {self._batch_id} is finished; its job definition is deregistered",
                batch_id=str(self._batch_id),
            )

    def _reserve(self, count: int) -> int:
        """Reserve `count` consecutive job indexes; return the first."""
        with self._lock:
            base = self._next_index
            self._next_index += count
            return base

    def _record(self, job: SubmittedJob) -> None:
        self._jobs[job.job_id] = job
        if job.array_id is not None:
            self._arrays.add(job.array_id)
        self._next_index = max(self._next_index, job.index + 1)

    def _job(self, job_id: str) -> SubmittedJob:
        try:
            return self._jobs[job_id]
        except KeyError:
            raise JobNotFoundError(job_id, batch_id=str(self._batch_id)) from None

    def _result(self, job: SubmittedJob, state: JobState | None) -> JobResult:
        return JobResult(
            job_id=job.job_id,
            index=job.index,
            status=state.status if state else JobStatus.SUBMITTED,
            status_reason=state.status_reason if state else None,
            exit_code=state.exit_code if state else None,
            attempts=state.attempts if state else 0,
            log_stream_name=state.log_stream_name if state else None,
            output_key=self.layout.output_key(job.index),
            failure=self._failure(job, state),
            container_reason=state.container_reason if state else None,
        )

    def _failure(self, job: SubmittedJob, state: JobState | None) -> FailureKind | None:
        if state is None or state.failure is None:
            return None
        ours = job.job_id in self._terminated or job.array_id in self._terminated
        if ours and state.failure is not FailureKind.DEPENDENCY_FAILED:
            return FailureKind.TERMINATED  # AWS does not always flag isTerminated
        return state.failure

    def _on_finished(self, state: JobState) -> None:
        self._states[state.job_id] = state
        if state.status is JobStatus.FAILED:
            self.progress.on_job_failed(self._result(self._jobs[state.job_id], state))
        callback = self._callbacks.pop(state.job_id, None)
        if callback is not None:
            callback()


def _governor(governor: RateGovernor | None, clock: Clock, sleep: Sleep) -> RateGovernor:
    """The given governor; else the process's shared one, or a private one on an injected clock."""
    if governor is not None:
        return governor
    if clock is time.monotonic and sleep is time.sleep:
        return shared_batch_governor()
    return RateGovernor.per_second(DEFAULT_BATCH_RATE, clock=clock, sleep=sleep)
