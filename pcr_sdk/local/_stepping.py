"""A scheduler that moves each job one step per DescribeJobs, on a virtual clock.

`pcr_sdk.testing` runs AWS Batch on it: the job model, request checks and state machine are
the engine's (`JobStates`); only time and containers differ. Nothing happens in the
background. Each DescribeJobs call moves the virtual clock on by `tick_seconds`, then moves
every job it includes (the children of an array parent it includes too, children before
parents) one step along SUBMITTED -> PENDING -> RUNNABLE -> STARTING -> RUNNING, or finishes
it. `Programs.polls(job)` says how many describes a job takes before its attempt's container
(a `Program`, run in-process) is polled; it ends when the program says so. A job waits in
PENDING while a dependency is unfinished (those describes do not count), and a retried job
starts its next attempt on its next describe.

Timeouts and TerminateJob's grace period run on the virtual clock: a stopped attempt's
program gets `terminate()` (SIGTERM) on its next step and, if it goes on running, exit code
137 (SIGKILL) on the first step after `grace_seconds`. The compute environment holds any
number of jobs at once, each up to `capacity`; a job asking more stays RUNNABLE with AWS's
blocked reason until it is cancelled (it blocks no other job).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol

from pcr_sdk._private.public import public
from pcr_sdk._private.wire import facts
from pcr_sdk._private.wire.facts import JobStatus
from pcr_sdk.local._capacity import Resources
from pcr_sdk.local._model import FINISHED, Attempt, Job, Stop
from pcr_sdk.local._process import ContainerRun
from pcr_sdk.local._runner import container_run
from pcr_sdk.local._scheduler import JobStates

SIGTERM_EXIT: Final = 143
"""The exit code of a container that SIGTERM ended (128 + 15)."""
SIGKILL_EXIT: Final = 137
"""The exit code of a container that SIGKILL ended (128 + 9)."""
_ORDER: Final = (
    JobStatus.SUBMITTED,
    JobStatus.PENDING,
    JobStatus.RUNNABLE,
    JobStatus.STARTING,
    JobStatus.RUNNING,
)
_RUNNING: Final = len(_ORDER) - 1

LineSink = Callable[[str], None]


@dataclass(frozen=True)
class Exit:
    """How an attempt's container ended: its exit code (None: it never ran, or its host went
    away), the container's `reason` and the attempt's statusReason."""

    code: int | None
    reason: str | None = None
    status_reason: str = facts.CONTAINER_EXITED_REASON


class Program(Protocol):
    """One attempt's container, run in-process and polled by DescribeJobs."""

    def poll(self) -> Exit | None:
        """Run on; how the container ended, or None while it still runs."""

    def terminate(self) -> Exit | None:
        """SIGTERM: how the container ended on it, or None if it goes on running."""


class Programs(Protocol):
    """What the jobs of a stepping scheduler do."""

    def admit(self, job: Job) -> None:
        """`job` was submitted (an array parent, then each child, in order)."""

    def polls(self, job: Job) -> int:
        """How many DescribeJobs `job` takes before its container is polled."""

    def start(self, job: Job, run: ContainerRun, log: LineSink) -> Program:
        """Start the container of `job`'s attempt `run`; `log` appends to its log stream."""


@public("pcr_sdk.testing")
class VirtualClock:
    """Seconds since the epoch that only move when told to; call it for the time.

    Args:
        start: the time it starts at, in seconds since the epoch.
    """

    def __init__(self, start: float) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock `seconds` on.

        Args:
            seconds: how far, at least 0.

        Raises:
            ValueError: `seconds` is negative (the clock does not go back).
        """
        if seconds < 0:
            raise ValueError(f"the clock does not go back ({seconds} s)")
        with self._lock:
            self._now += seconds


class SteppingScheduler(JobStates):
    """Moves the jobs that each DescribeJobs includes one step on (see the module docstring)."""

    environment_name = "compute environment"
    capacity_hint = "No instance type of the compute environment holds it."

    def __init__(
        self,
        programs: Programs,
        logs: Callable[[str, str], None],
        *,
        queue: str,
        region: str,
        capacity: Resources,
        clock: VirtualClock,
        tick_seconds: float = 1.0,
        grace_seconds: float = facts.TERMINATION_GRACE_SECONDS,
        new_id: Callable[[], uuid.UUID] = uuid.uuid4,
    ) -> None:
        super().__init__(queue=queue, region=region, capacity=capacity, clock=clock, new_id=new_id)
        self.clock = clock
        self._programs = programs
        self._logs = logs
        self._tick = tick_seconds
        self._grace = grace_seconds
        self._describes: dict[Job, int] = {}
        self._running: dict[Attempt, Program] = {}

    def submit(self, job: Job) -> None:
        super().submit(job)
        self._programs.admit(job)
        for child in job.children:
            self._programs.admit(child)

    def observe(self, jobs: list[Job]) -> None:
        """One DescribeJobs call: the clock ticks, then each included job moves one step."""
        self.clock.advance(self._tick)
        targets: dict[int, Job] = {}
        for job in jobs:
            for target in job.children if job.array_size is not None else [job]:
                targets[target.seq] = target
        for seq in sorted(targets):
            self._step(targets[seq])

    def close(self) -> None:
        with self.cond:
            self._closing = True
            self._running.clear()

    # -- hooks of the shared state machine ----------------------------------------------------

    def _queue(self, job: Job) -> None:
        """A RUNNABLE job moves on when it is described."""

    def _dependencies_done(self, job: Job) -> None:
        """It stays PENDING until its next describe."""

    def _attempt_ended(self, job: Job) -> None:
        """Nothing to give back: every job has an instance of its own."""

    # -- one step -----------------------------------------------------------------------------

    def _step(self, job: Job) -> None:
        if job.status in FINISHED or self._closing:
            return
        if job.status is JobStatus.SUBMITTED and any(
            prerequisite.status is not JobStatus.SUCCEEDED for prerequisite in job.prerequisites
        ):
            self._promote(job)  # PENDING until they end, or FAILED if one failed already
            return
        if job.status is JobStatus.PENDING and job.waiting > 0:
            return
        count = self._describes[job] = self._describes.get(job, 0) + 1
        runs = count > self._programs.polls(job)
        attempt = job.current
        if attempt is not None and job.status is JobStatus.STARTING and attempt.stop is not None:
            self.end_attempt(job, attempt, None, None, facts.TASK_START_FAILED_REASON)
            return
        self._advance(job, _RUNNING if runs else min(count - 1, _RUNNING))
        if job.status is JobStatus.RUNNING:
            self._run(job, poll=runs)

    def _advance(self, job: Job, target: int) -> None:
        """Move `job` forward through the statuses up to `_ORDER[target]`, as far as it can."""
        while job.status not in FINISHED and _ORDER.index(job.status) < target:
            status = job.status
            if status is JobStatus.SUBMITTED:
                self._promote(job)
            elif status is JobStatus.PENDING:
                if job.waiting > 0:
                    return
                self._make_runnable(job)
            elif status is JobStatus.RUNNABLE:
                if not job.resources.fits_in(self.capacity):
                    self._block(job)
                    return
                self._new_attempt(job)
            else:
                self._start(job)
            if job.status is status:
                return

    def _start(self, job: Job) -> None:
        """STARTING -> RUNNING: the attempt's container starts."""
        attempt = job.current
        if attempt is None:  # pragma: no cover - STARTING always has an attempt
            return
        now = self.now_ms()
        attempt.started_at = now
        job.started_at = now
        job.status = JobStatus.RUNNING
        stream = f"{job.definition.name}/default/{attempt.task_id}"
        attempt.log_stream = stream
        if job.timeout_seconds is not None:
            attempt.deadline = self.clock() + job.timeout_seconds
        queue = job.queue_arn.rsplit("/", 1)[-1]
        run = container_run(job, attempt, queue)
        self._running[attempt] = self._programs.start(
            job, run, lambda line: self._logs(stream, line)
        )

    def _run(self, job: Job, *, poll: bool) -> None:
        """A RUNNING attempt: timers first (timeout, SIGTERM, SIGKILL), then its container."""
        attempt = job.current
        program = self._running.get(attempt) if attempt is not None else None
        if attempt is None or program is None:  # pragma: no cover - RUNNING has both
            return
        now = self.clock()
        if attempt.stop is None and attempt.deadline is not None and now >= attempt.deadline:
            attempt.stop = Stop.TIMEOUT
        if attempt.stop is not None and attempt.kill_at is None:
            attempt.kill_at = now + self._grace
            if self._ended(job, attempt, program.terminate()):
                return
        if attempt.kill_at is not None and now >= attempt.kill_at:
            attempt.killed = True
            self._ended(job, attempt, Exit(SIGKILL_EXIT))
            return
        if poll:
            self._ended(job, attempt, program.poll())

    def _ended(self, job: Job, attempt: Attempt, outcome: Exit | None) -> bool:
        if outcome is None:
            return False
        self._running.pop(attempt, None)
        self.end_attempt(job, attempt, outcome.code, outcome.reason, outcome.status_reason)
        return True
