"""The local AWS Batch's schedulers: job states, placement by capacity, timers and attempt runners.

`JobStates` is what every scheduler shares: the job table and AWS Batch's state machine
(dependencies, arrays, CancelJob and TerminateJob, retries), all under one
`threading.Condition` (`cond`), shared with the API handlers. How jobs move on is the
subclass's: `Scheduler` below runs them in real time as subprocesses; `_stepping` moves them
one step per DescribeJobs on a virtual clock (`pcr_sdk.testing`).

`Scheduler`'s thread sleeps on `cond` until something changes or a timer is due; it moves
SUBMITTED jobs to PENDING and on to RUNNABLE once their dependencies succeeded, places RUNNABLE
jobs in queue order while the local compute environment has room (a job that can never fit
stays at the head, RUNNABLE with AWS's blocked reason, and blocks the queue as on AWS), and
signals attempts that are to stop: SIGTERM first, SIGKILL after the grace period. Each placed
attempt gets a runner thread that starts the process, waits for it and records the outcome.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable

from pcr_sdk._private.wire import facts
from pcr_sdk._private.wire.facts import JobStatus
from pcr_sdk.local._capacity import Resources
from pcr_sdk.local._journal import NO_JOURNAL, JobJournal
from pcr_sdk.local._logs import LogStore
from pcr_sdk.local._model import FINISHED, STARTED, Attempt, Job, Stop
from pcr_sdk.local._process import Launcher, ProcessHandle
from pcr_sdk.local._runner import SHUT_DOWN_REASON, run_attempt

logger = logging.getLogger(__name__)

ACCOUNT_ID = "123456789012"


class JobStates(ABC):
    """The jobs of one job queue and AWS Batch's state machine over them.

    Subclasses decide when jobs move on: they implement `_queue` (a job became RUNNABLE),
    `_dependencies_done` (a PENDING job may become RUNNABLE) and `_attempt_ended` (an
    attempt's resources are free again), and may override `observe`, `start` and `close`.
    """

    environment_name = "local compute environment"
    capacity_hint = (
        "It blocks the queue, as on AWS. LocalBackend(vcpus=, memory_mib=, gpus=) sets the "
        "local capacity."
    )

    def __init__(
        self,
        *,
        queue: str,
        region: str,
        capacity: Resources,
        clock: Callable[[], float] = time.time,
        new_id: Callable[[], uuid.UUID] = uuid.uuid4,
    ) -> None:
        self.cond = threading.Condition()
        self.jobs: dict[str, Job] = {}
        self.top_level: list[Job] = []
        self.capacity = capacity
        self.queue = queue
        self.region = region
        self._clock = clock
        self._new_id = new_id
        self._seq = 0
        self._closing = False
        self.journal: JobJournal = NO_JOURNAL
        """Told of every change (a kept account's `EngineJournal`)."""

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start moving jobs (nothing to start unless a subclass says so)."""
        return None  # an optional hook

    def close(self) -> None:
        """Stop moving jobs."""
        with self.cond:
            self._closing = True

    @property
    def closing(self) -> bool:
        return self._closing

    # -- what the API handlers call (they hold `cond`) ----------------------------------------

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def now_ms(self) -> int:
        return int(self._clock() * 1000)

    def new_hex(self) -> str:
        return self._new_id().hex

    def submit(self, job: Job) -> None:
        """Record a new job (with its array children)."""
        self.jobs[job.job_id] = job
        self.top_level.append(job)
        for child in job.children:
            self.jobs[child.job_id] = child
        job.unfinished_children = len(job.children)
        self.journal.job_submitted(job)
        self.cond.notify_all()

    def observe(self, jobs: list[Job]) -> None:
        """DescribeJobs is about to show `jobs` (the stepping scheduler moves them on)."""
        del jobs  # an optional hook

    def stop(self, job: Job, reason: str, *, terminate: bool) -> None:
        """CancelJob (`terminate=False`) or TerminateJob, as AWS Batch applies them.

        SUBMITTED and RUNNABLE jobs fail at once; a PENDING job stays PENDING and fails once its
        dependencies are done (at once if they are); TerminateJob also stops STARTING and
        RUNNING attempts (SIGTERM, then SIGKILL after the grace period). An array parent
        applies it to every child, and a cancelled one ends FAILED even if the children that
        were running then succeed.
        """
        targets = job.children if job.array_size is not None else [job]
        if job.array_size is not None and job.status not in FINISHED:
            job.final_reason = reason
            job.is_cancelled = job.is_cancelled or not terminate
            job.is_terminated = job.is_terminated or terminate
            self.journal.job_changed(job)
        for target in targets:
            if target.status in FINISHED:
                continue
            if target.status in STARTED:
                if terminate:
                    target.is_terminated = True
                    target.terminate_reason = reason
                    if target.current is not None and target.current.stop is None:
                        target.current.stop = Stop.TERMINATE
                    self.journal.job_changed(target)
                continue
            target.is_cancelled = target.is_cancelled or not terminate
            target.is_terminated = target.is_terminated or terminate
            if target.status is JobStatus.PENDING and target.waiting > 0:
                target.cancel_reason = target.cancel_reason or reason
                self.journal.job_changed(target)
            else:
                self._finish(target, JobStatus.FAILED, reason)
        self.cond.notify_all()

    def reclaim(self, job: Job) -> str:
        """End the running attempt as a host termination (a Spot reclaim) does; its reason."""
        attempt = job.current
        if job.status not in STARTED or attempt is None:
            raise ValueError(f"job {job.job_id} is {job.status.value}, not STARTING or RUNNING")
        if attempt.stop is None:
            attempt.stop = Stop.RECLAIM
            attempt.host_reason = facts.HOST_TERMINATED_REASON_FORMAT.format(
                instance_id=f"i-{self.new_hex()[:17]}"
            )
            self.cond.notify_all()
        return attempt.host_reason or ""

    # -- the state machine (caller holds `cond`) ------------------------------------------------

    @abstractmethod
    def _queue(self, job: Job) -> None:
        """`job` just became RUNNABLE."""

    @abstractmethod
    def _dependencies_done(self, job: Job) -> None:
        """Every dependency of the PENDING `job` succeeded."""

    @abstractmethod
    def _attempt_ended(self, job: Job) -> None:
        """`job`'s current attempt ended (it is in `job.attempts` now)."""

    def _finish(self, job: Job, status: JobStatus, reason: str | None) -> None:
        """Move `job` to a final status and let its dependents and its array parent follow."""
        work: list[tuple[Job, JobStatus, str | None]] = [(job, status, reason)]
        now = self.now_ms()
        while work:
            current, final, why = work.pop()
            if current.status in FINISHED:
                continue
            current.status = final
            current.status_reason = why
            current.stopped_at = now
            self.journal.job_changed(current)
            for dependent in current.dependents:
                if dependent.status in FINISHED:
                    continue
                if final is JobStatus.SUCCEEDED:
                    dependent.waiting -= 1
                    if dependent.waiting == 0 and dependent.status is JobStatus.PENDING:
                        if dependent.cancel_reason is not None:
                            work.append((dependent, JobStatus.FAILED, dependent.cancel_reason))
                        else:
                            self._dependencies_done(dependent)
                else:
                    why_dependent = dependent.cancel_reason or facts.DEPENDENCY_FAILED_REASON
                    work.append((dependent, JobStatus.FAILED, why_dependent))
            current.dependents.clear()
            parent = current.parent
            if parent is not None:
                parent.unfinished_children -= 1
                if final is JobStatus.FAILED:
                    parent.failed_children += 1
                if parent.unfinished_children == 0:
                    # a cancelled array fails even if its running children succeeded (as on AWS)
                    failed = parent.failed_children > 0 or parent.is_cancelled
                    work.append(
                        (
                            parent,
                            JobStatus.FAILED if failed else JobStatus.SUCCEEDED,
                            parent.final_reason if failed else None,
                        )
                    )
        self.cond.notify_all()

    def _make_runnable(self, job: Job) -> None:
        job.status = JobStatus.RUNNABLE
        job.status_reason = None
        self.journal.job_changed(job)
        self._queue(job)
        parent = job.parent
        if parent is not None and parent.status is JobStatus.SUBMITTED:
            parent.status = JobStatus.PENDING
            self.journal.job_changed(parent)

    def _promote(self, job: Job) -> None:
        """SUBMITTED -> PENDING, waiting for each dependency that has not succeeded yet."""
        if job.status is not JobStatus.SUBMITTED or job.array_size is not None:
            return  # cancelled meanwhile, or an array parent (it follows its children)
        job.status = JobStatus.PENDING
        self.journal.job_changed(job)
        if job.parent is not None and job.parent.status is JobStatus.SUBMITTED:
            job.parent.status = JobStatus.PENDING
            self.journal.job_changed(job.parent)
        for prerequisite in job.prerequisites:
            if prerequisite.status is JobStatus.SUCCEEDED:
                continue
            if prerequisite.status is JobStatus.FAILED:
                self._finish(job, JobStatus.FAILED, facts.DEPENDENCY_FAILED_REASON)
                return
            job.waiting += 1
            prerequisite.dependents.append(job)
        if job.waiting == 0:
            self._dependencies_done(job)

    def _block(self, job: Job) -> None:
        """The job can never fit: RUNNABLE for ever with AWS's reason, logged once."""
        job.status_reason = facts.BLOCKED_BY_RESOURCES_REASON
        if job.blocked:
            return
        job.blocked = True
        self.journal.job_changed(job)
        logger.warning(
            "job %s (%s) can never run on the %s: it asks %s, which exceeds %s; it stays "
            "RUNNABLE, as on AWS Batch, until it is cancelled. %s",
            job.job_id,
            job.name,
            self.environment_name,
            ", ".join(job.resources.shortfall(self.capacity)),
            self.capacity,
            self.capacity_hint,
        )

    def _new_attempt(self, job: Job) -> Attempt:
        """RUNNABLE -> STARTING with a new attempt."""
        job.status = JobStatus.STARTING
        attempt = Attempt(
            number=len(job.attempts) + 1,
            task_arn=f"arn:aws:ecs:{self.region}:{ACCOUNT_ID}:task/{self.queue}/{self.new_hex()}",
        )
        job.current = attempt
        self.journal.job_changed(job)
        return attempt

    def end_attempt(
        self,
        job: Job,
        attempt: Attempt,
        exit_code: int | None,
        reason: str | None,
        status_reason: str,
    ) -> None:
        """Record a finished attempt; retry it, or finish the job (caller holds `cond`)."""
        attempt.stopped_at = self.now_ms()
        attempt.handle = None
        stop = attempt.stop
        if stop is Stop.TIMEOUT:
            exit_code, status_reason = None, facts.TIMEOUT_REASON
        elif stop is Stop.RECLAIM:
            exit_code = None
            status_reason = attempt.host_reason or facts.HOST_TERMINATED_REASON_PREFIX
        elif stop is Stop.TERMINATE and job.terminate_reason is not None:
            status_reason = job.terminate_reason
        attempt.exit_code = exit_code
        attempt.reason = reason
        attempt.status_reason = status_reason
        job.attempts.append(attempt)
        job.current = None
        self._attempt_ended(job)
        if stop is Stop.TERMINATE or stop is Stop.TIMEOUT:
            self._finish(job, JobStatus.FAILED, status_reason)  # AWS never retries these
        elif stop is None and exit_code == 0:
            self._finish(job, JobStatus.SUCCEEDED, facts.CONTAINER_EXITED_REASON)
        elif self._closing:
            self._finish(job, JobStatus.FAILED, SHUT_DOWN_REASON)
        elif job.retry.retries(len(job.attempts), exit_code, reason, status_reason):
            logger.info(
                "job %s attempt %d failed (%s); retrying", job.job_id, attempt.number, status_reason
            )
            job.status = JobStatus.RUNNABLE
            job.status_reason = None
            self._queue(job)
        else:
            self._finish(job, JobStatus.FAILED, status_reason)
        self.journal.job_changed(job)
        self.cond.notify_all()

    # -- an account kept on disk ------------------------------------------------------------

    def _attempt_resumed(self, job: Job) -> None:
        """`job`'s attempt, cut off by an earlier holder, is about to end: count it as running."""
        del job  # an optional hook

    def restore(self, jobs: list[Job], *, cut_off: Callable[[Job, Attempt], int]) -> None:
        """Take over the jobs a kept account holds (their definitions are the engine's).

        Finished jobs stay as they are; queued ones are queued again (SUBMITTED and PENDING
        ones wait for their dependencies anew). A job an earlier holder was starting or
        running ends that attempt as a host that went away: `cut_off(job, attempt)` sets the
        attempt's reasons (no exit code) and returns when it stopped (epoch ms); its retry
        strategy then decides, as on AWS: another attempt (RUNNABLE), or FAILED.
        """
        every = sorted((each for job in jobs for each in (job, *job.children)), key=_by_seq)
        for job in every:
            self.jobs[job.job_id] = job
        self.top_level.extend(jobs)
        self._seq = max([self._seq, *(job.seq for job in every)])
        for job in jobs:
            if job.array_size is not None:
                job.unfinished_children = sum(c.status not in FINISHED for c in job.children)
                job.failed_children = sum(c.status is JobStatus.FAILED for c in job.children)
        for job in every:
            if job.status in FINISHED or job.array_size is not None:
                continue
            if job.status in STARTED:
                self._end_cut_off(job, cut_off)
            elif job.status is JobStatus.RUNNABLE:
                self._queue(job)
            elif job.cancel_reason is not None and all(
                p.status is JobStatus.SUCCEEDED for p in job.prerequisites
            ):
                self._finish(job, JobStatus.FAILED, job.cancel_reason)
            else:
                job.status = JobStatus.SUBMITTED
                self._promote(job)
        for job in jobs:
            ended = job.array_size is not None and job.unfinished_children == 0
            if ended and job.status not in FINISHED:
                failed = job.failed_children > 0 or job.is_cancelled
                final = JobStatus.FAILED if failed else JobStatus.SUCCEEDED
                self._finish(job, final, job.final_reason if failed else None)
        self.cond.notify_all()

    def _end_cut_off(self, job: Job, cut_off: Callable[[Job, Attempt], int]) -> None:
        attempt = job.current
        if attempt is None:  # STARTING without an attempt: not written so, but be safe
            attempt = self._new_attempt(job)
        self._attempt_resumed(job)
        stopped_at = cut_off(job, attempt)
        attempt.stop = Stop.RECLAIM
        self.end_attempt(job, attempt, None, attempt.reason, attempt.host_reason or "")
        attempt.stopped_at = stopped_at
        if job.status is JobStatus.FAILED and job.attempts[-1] is attempt:
            job.stopped_at = stopped_at
        self.journal.job_changed(job)


def _by_seq(job: Job) -> int:
    return job.seq


class Scheduler(JobStates):
    """Runs the jobs of one job queue on one local compute environment, in real time."""

    def __init__(
        self,
        launcher: Launcher,
        logs: LogStore,
        *,
        queue: str,
        region: str,
        capacity: Resources,
        max_parallel: int | None = None,
        timeout_scale: float = 1.0,
        grace_seconds: float = facts.TERMINATION_GRACE_SECONDS,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        new_id: Callable[[], uuid.UUID] = uuid.uuid4,
    ) -> None:
        if max_parallel is not None and max_parallel < 1:
            raise ValueError(f"max_parallel must be at least 1, got {max_parallel}")
        if not timeout_scale > 0:
            raise ValueError(f"timeout_scale must be positive, got {timeout_scale}")
        if grace_seconds < 0:
            raise ValueError(f"grace_seconds must not be negative, got {grace_seconds}")
        super().__init__(queue=queue, region=region, capacity=capacity, clock=clock, new_id=new_id)
        self._launcher = launcher
        self._logs = logs
        self._max_parallel = max_parallel
        self._timeout_scale = timeout_scale
        self._grace = grace_seconds * timeout_scale
        self._monotonic = monotonic
        self._submitted: deque[Job] = deque()
        self._runnable: deque[Job] = deque()
        self._running: set[Job] = set()
        self._active = 0
        self._in_use = Resources()
        self._threads: set[threading.Thread] = set()
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        with self.cond:
            if self._thread is not None:
                return
            self._thread = threading.Thread(
                target=self._schedule, name="pcr-local-scheduler", daemon=True
            )
        self._thread.start()

    def close(self) -> None:
        """SIGKILL running attempts, stop the scheduler and wait for every runner thread."""
        with self.cond:
            self._closing = True
            handles = [job.current.handle for job in self._running if job.current is not None]
            thread = self._thread
            self.cond.notify_all()
        for handle in handles:
            if handle is not None:
                handle.kill()
        if thread is not None:
            thread.join()
        while True:
            with self.cond:
                threads = list(self._threads)
            if not threads:
                break
            for runner in threads:
                runner.join()
                with self.cond:
                    self._threads.discard(runner)

    def submit(self, job: Job) -> None:
        """Queue a new job (with its array children) for the scheduler thread."""
        super().submit(job)
        self._submitted.append(job)
        self._submitted.extend(job.children)

    # -- the state machine (caller holds `cond`) ------------------------------------------------

    def _queue(self, job: Job) -> None:
        self._runnable.append(job)

    def _dependencies_done(self, job: Job) -> None:
        self._make_runnable(job)

    def _attempt_ended(self, job: Job) -> None:
        self._running.discard(job)
        self._active -= 1
        self._in_use -= job.resources

    def _attempt_resumed(self, job: Job) -> None:
        self._active += 1
        self._in_use += job.resources

    def _claim(self) -> list[tuple[Job, Attempt]]:
        """RUNNABLE -> STARTING, in queue order, while the head job fits the free capacity."""
        claimed: list[tuple[Job, Attempt]] = []
        while self._runnable:
            job = self._runnable[0]
            if job.status is not JobStatus.RUNNABLE:
                self._runnable.popleft()  # cancelled while queued
                continue
            if not job.resources.fits_in(self.capacity):
                self._block(job)
                break
            if self._max_parallel is not None and self._active >= self._max_parallel:
                break
            if not (self._in_use + job.resources).fits_in(self.capacity):
                break
            self._runnable.popleft()
            attempt = self._new_attempt(job)
            self._active += 1
            self._in_use += job.resources
            claimed.append((job, attempt))
        return claimed

    def _timers(self) -> tuple[list[tuple[ProcessHandle, bool]], float | None]:
        """Signals due now (handle, is SIGKILL) and the seconds until the next timer."""
        now = self._monotonic()
        signals: list[tuple[ProcessHandle, bool]] = []
        nearest: float | None = None
        for job in self._running:
            attempt = job.current
            if attempt is None or attempt.handle is None:
                continue
            if attempt.stop is None and attempt.deadline is not None and attempt.deadline <= now:
                attempt.stop = Stop.TIMEOUT
            if attempt.stop is not None and attempt.kill_at is None:
                attempt.kill_at = now + self._grace
                signals.append((attempt.handle, False))
            if attempt.kill_at is not None and not attempt.killed and attempt.kill_at <= now:
                attempt.killed = True
                signals.append((attempt.handle, True))
            due = attempt.deadline if attempt.stop is None else None
            if attempt.kill_at is not None and not attempt.killed:
                due = attempt.kill_at
            if due is not None and (nearest is None or due < nearest):
                nearest = due
        return signals, None if nearest is None else max(0.0, nearest - now)

    def _schedule(self) -> None:
        while True:
            with self.cond:
                if self._closing:
                    return
                while self._submitted:
                    self._promote(self._submitted.popleft())
                claimed = self._claim()
                signals, wait = self._timers()
                if not claimed and not signals:
                    self.cond.wait(wait)
                    continue
                runners = []
                for job, attempt in claimed:
                    runner = threading.Thread(
                        target=run_attempt,
                        args=(self, self._launcher, self._logs, job, attempt),
                        name=f"pcr-local-{job.job_id}#{attempt.number}",
                        daemon=True,
                    )
                    self._threads.add(runner)
                    runners.append(runner)
            for handle, kill in signals:
                if kill:
                    handle.kill()
                else:
                    handle.terminate()
            for runner in runners:
                runner.start()

    # -- what runner threads call ---------------------------------------------------------------

    def attempt_started(self, job: Job, attempt: Attempt, handle: ProcessHandle) -> bool:
        """STARTING -> RUNNING once its process runs (caller holds `cond`); True if closing."""
        now = self.now_ms()
        attempt.handle = handle
        attempt.started_at = now
        job.started_at = now
        job.status = JobStatus.RUNNING
        if job.timeout_seconds is not None:
            attempt.deadline = self._monotonic() + job.timeout_seconds * self._timeout_scale
        self._running.add(job)
        self.journal.job_changed(job)
        self.cond.notify_all()
        return self._closing

    def runner_done(self) -> None:
        with self.cond:
            self._threads.discard(threading.current_thread())
