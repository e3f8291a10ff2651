"""Poller: DescribeJobs about unfinished jobs only, 100 ids a call, until every job finished."""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from pcr_sdk._private.edge.governor import Clock, RateGovernor, Sleep
from pcr_sdk._private.edge.reads import BatchReads
from pcr_sdk._private.errors import PcrInputError, guard_public_methods
from pcr_sdk._private.model.results import JobState
from pcr_sdk._private.wire.facts import BLOCKED_REASON_PREFIXES, LIST_JOBS_MAX_RESULTS, JobStatus

if TYPE_CHECKING:
    from mypy_boto3_batch import BatchClient
    from mypy_boto3_batch.type_defs import JobDetailTypeDef, JobSummaryTypeDef

    from pcr_sdk._private.services.poll_run import PollRun

logger = logging.getLogger(__name__)

JITTER: Final = 0.1
DEFAULT_EXPIRY_SECONDS: Final = 5.0
EXPIRED_REASON: Final = "AWS Batch no longer returns this job (it keeps finished jobs about a day)"
_CHILD_STATUSES: Final = ("SUCCEEDED", "FAILED", "RUNNING", "STARTING", "RUNNABLE", "PENDING",
                          "SUBMITTED")  # fmt: skip


@dataclass(frozen=True)
class PollProgress:
    """A snapshot after one polling cycle: how many of `total` jobs are in each status."""

    cycle: int
    """The polling cycle's number: 1, 2, ..."""
    total: int
    """How many jobs the wait follows."""
    counts: Mapping[JobStatus, int] = field(default_factory=dict)
    """How many of them are in each status."""
    blocked: Mapping[str, str] = field(default_factory=dict)
    """RUNNABLE jobs AWS Batch says cannot start (e.g. no compute environment fits their vCPUs,
    memory or GPUs), with AWS's reason; they wait for ever unless something changes."""

    @property
    def succeeded(self) -> int:
        """How many jobs have SUCCEEDED."""
        return self.counts.get(JobStatus.SUCCEEDED, 0)

    @property
    def failed(self) -> int:
        """Jobs that FAILED or EXPIRED."""
        return self.counts.get(JobStatus.FAILED, 0) + self.counts.get(JobStatus.EXPIRED, 0)

    @property
    def finished(self) -> int:
        """How many jobs have finished, succeeded or failed."""
        return self.succeeded + self.failed


def job_state(detail: JobDetailTypeDef) -> JobState:
    """Read one DescribeJobs entry into a `JobState`."""
    container = detail.get("container", {})
    attempts = detail.get("attempts", [])
    exit_code = container.get("exitCode")
    log_stream = container.get("logStreamName")
    container_reason = container.get("reason")
    if attempts:
        last = attempts[-1].get("container", {})
        exit_code = last.get("exitCode", exit_code)
        log_stream = last.get("logStreamName", log_stream)
        container_reason = last.get("reason", container_reason)
    summary = detail.get("arrayProperties", {}).get("statusSummary")
    return JobState(
        job_id=detail["jobId"],
        status=JobStatus(detail["status"]),
        status_reason=detail.get("statusReason"),
        exit_code=exit_code,
        attempts=len(attempts),
        log_stream_name=log_stream,
        children=dict(summary) if summary is not None else None,
        container_reason=container_reason,
        cancelled=bool(detail.get("isCancelled")),
        terminated=bool(detail.get("isTerminated")),
        created_at=detail.get("createdAt"),
        started_at=detail.get("startedAt"),
        stopped_at=detail.get("stoppedAt"),
    )


def summary_state(summary: JobSummaryTypeDef) -> JobState:
    """Read one ListJobs entry (less detail than DescribeJobs) into a `JobState`."""
    container = summary.get("container", {})
    return JobState(
        job_id=summary["jobId"],
        status=JobStatus(summary["status"]),
        status_reason=summary.get("statusReason"),
        exit_code=container.get("exitCode"),
        container_reason=container.get("reason"),
        summary_only=True,
        created_at=summary.get("createdAt"),
        started_at=summary.get("startedAt"),
        stopped_at=summary.get("stoppedAt"),
    )


def expired_state(job_id: str) -> JobState:
    """The state of a job AWS Batch no longer returns."""
    return JobState(job_id, JobStatus.EXPIRED, status_reason=EXPIRED_REASON)


def parent_of(job_id: str) -> str:
    """`<parent>` of an array child id `<parent>:<i>`; the id itself for any other job."""
    return job_id.rsplit(":", 1)[0] if ":" in job_id else job_id


def _setting(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise PcrInputError(f"{name} must be a finite number, got {value!r}")
    if value < 0:
        raise PcrInputError(f"{name} must be >= 0, got {value}")
    return float(value)


def check_timeout(timeout: float | None) -> float | None:
    """A wait's timeout: None (no limit) or a finite number of seconds >= 0."""
    return None if timeout is None else _setting("timeout", timeout)


@guard_public_methods
class Poller:
    """Waits for jobs the way the seed did, without its costs.

    Each cycle sleeps `polling_interval_seconds`, then describes only the unfinished jobs, at most
    100 ids a request, with at least `request_throttling_milliseconds` between requests. An array
    job costs one id (its parent: the statusSummary counts the children), plus one ListJobs of its
    FAILED children once failures appear. Every job's `on_finished` runs exactly once.

    A job DescribeJobs stops returning (AWS keeps finished jobs about a day) becomes EXPIRED
    once two looks at least `expiry_seconds` apart both miss it. A RUNNABLE job whose status
    reason says it blocks its queue (no compute environment can fit it) is logged once.

    `adaptive=True` polls soon after a change and backs off (doubling, up to the interval)
    while nothing changes, with +-10 % jitter from the injected `random`.

    Args:
        batch: the AWS Batch client.
        polling_interval_seconds: the pause between two polling cycles (the longest one, with
            `adaptive`).
        request_throttling_milliseconds: the least spacing between two requests.
        governor: a rate governor every request also goes through (e.g. one shared with the
            submitter); None: the spacing alone.
        adaptive: poll soon after a change, back off while nothing changes.
        min_interval_seconds: the shortest pause, with `adaptive` (at most the interval).
        expiry_seconds: how far apart two looks must both miss a job before it is EXPIRED.
        clock: monotonic seconds, for tests.
        sleep: how to wait, for tests.
        random_source: the jitter's random numbers in [0, 1), for tests.

    Raises:
        PcrInputError: a number is negative, NaN or infinite.
    """

    def __init__(
        self,
        batch: BatchClient,
        *,
        polling_interval_seconds: float = 60,
        request_throttling_milliseconds: float = 200,
        governor: RateGovernor | None = None,
        adaptive: bool = False,
        min_interval_seconds: float = 1.0,
        expiry_seconds: float = DEFAULT_EXPIRY_SECONDS,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        random_source: Callable[[], float] = random.random,
    ) -> None:
        self.polling_interval_seconds = _setting(
            "polling_interval_seconds", polling_interval_seconds
        )
        spacing = _setting("request_throttling_milliseconds", request_throttling_milliseconds)
        self.expiry_seconds = _setting("expiry_seconds", expiry_seconds)
        self.adaptive = adaptive
        self.min_interval_seconds = min(
            _setting("min_interval_seconds", min_interval_seconds), self.polling_interval_seconds
        )
        self._clock = clock
        self._sleep = sleep
        self._random = random_source
        self._governor = governor
        self._throttle = RateGovernor(1, spacing / 1000, clock=clock, sleep=sleep)
        self.reads = BatchReads(batch, acquire=self._acquire, throttle_listener=governor)
        self._blocked_logged: set[str] = set()

    def _acquire(self) -> None:
        self._throttle.acquire()
        if self._governor is not None:
            self._governor.acquire()

    def describe(self, job_ids: Sequence[str]) -> dict[str, JobState]:
        """The current state of `job_ids` (DescribeJobs, 100 ids a call).

        Args:
            job_ids: the jobs to describe.

        Returns:
            Each job's state by id; ids AWS Batch no longer knows are left out.
        """
        return {d["jobId"]: job_state(d) for d in self.reads.describe(job_ids)}

    def failed_children(self, array_id: str) -> dict[str, JobState]:
        """The FAILED children of array job `array_id` (ListJobs, every page).

        Args:
            array_id: the array (parent) job's id.

        Returns:
            Each failed child's state by its id, `<array_id>:<i>`.
        """
        return self.children(array_id, ("FAILED",))

    def children(self, array_id: str, statuses: Iterable[str]) -> dict[str, JobState]:
        """The children of array job `array_id` in `statuses` (ListJobs per status, paged).

        Args:
            array_id: the array (parent) job's id.
            statuses: AWS Batch job statuses, e.g. `("FAILED",)`.

        Returns:
            Each child's state by its id, `<array_id>:<i>`.
        """
        states: dict[str, JobState] = {}
        for status in statuses:
            for page in self.reads.pages(arrayJobId=array_id, jobStatus=status):
                for summary in page:
                    states[summary["jobId"]] = summary_state(summary)
        return states

    def all_children(self, array_id: str, parent: JobState) -> dict[str, JobState]:
        """Every child of `array_id` with its state: ListJobs only for the statuses its
        statusSummary shows (SUCCEEDED and FAILED only, once the parent finished).

        Args:
            array_id: the array (parent) job's id.
            parent: the parent's current state (its `children` summary says what to list).

        Returns:
            Each child's state by its id, `<array_id>:<i>`.
        """
        summary = parent.children or {}
        if parent.status.is_finished:
            wanted = [s for s in ("SUCCEEDED", "FAILED") if summary.get(s, 1)]
        else:
            wanted = [s for s in _CHILD_STATUSES if summary.get(s, 1)]
        return self.children(array_id, wanted)

    def wait(
        self,
        job_ids: Iterable[str],
        *,
        arrays: Iterable[str] = (),
        known: Mapping[str, JobState] | None = None,
        on_finished: Callable[[JobState], None] | None = None,
        on_progress: Callable[[PollProgress], None] | None = None,
        timeout: float | None = None,
    ) -> dict[str, JobState]:
        """Poll until every job in `job_ids` is finished; return their final states.

        Children `<parent>:<i>` of the array jobs named in `arrays` are followed through their
        parent. `known` holds states seen before (finished ones are not asked about again and get
        no callback).

        Args:
            job_ids: the jobs to wait for.
            arrays: ids of array parents among `job_ids` whose children to follow.
            known: states seen before, by job id.
            on_finished: called once with each job's final state, as polls see it finish.
            on_progress: called after each polling cycle with the counts so far.
            timeout: seconds to wait at most (default: no limit).

        Returns:
            Every job's final state, by id.

        Raises:
            PcrInputError: `timeout` is negative, NaN or infinite.
            WaitTimeoutError: `timeout` ran out.
            AwsError: a poll failed beyond botocore's retries.
        """
        run = self.run(job_ids, arrays=arrays, known=known, on_progress=on_progress,
                       timeout=timeout)  # fmt: skip
        for finished in run:
            if on_finished is not None:
                for state in finished:
                    on_finished(state)
        return run.states

    def run(
        self,
        job_ids: Iterable[str],
        *,
        arrays: Iterable[str] = (),
        known: Mapping[str, JobState] | None = None,
        on_progress: Callable[[PollProgress], None] | None = None,
        timeout: float | None = None,
        identify: bool = False,
    ) -> PollRun:
        """A wait as an iterator: each polling cycle gives the states of the jobs it saw finish.

        Same arguments and costs as `wait`. With `identify`, the children of a running array
        that newly SUCCEEDED are learned as they finish too (`wait` learns them when their
        parent finishes): see `PollRun`.

        Args:
            job_ids: as for `wait`.
            arrays: as for `wait`.
            known: as for `wait`.
            on_progress: as for `wait`.
            timeout: as for `wait`.
            identify: learn a running array's newly SUCCEEDED children as they finish.

        Returns:
            The run; iterating it polls.

        Raises:
            PcrInputError: `timeout` is negative, NaN or infinite.
        """
        from pcr_sdk._private.services.poll_run import (  # noqa: PLC0415 - it imports this module
            PollRun,
        )

        return PollRun(self, job_ids, arrays=arrays, known=known, on_progress=on_progress,
                       timeout=check_timeout(timeout), identify=identify)  # fmt: skip

    def _note_blocked(self, state: JobState, blocked: dict[str, str]) -> None:
        """Remember (and log once) a RUNNABLE job whose status reason says it cannot start."""
        reason = state.status_reason or ""
        if not reason.startswith(BLOCKED_REASON_PREFIXES):
            return
        blocked[state.job_id] = reason
        if state.job_id not in self._blocked_logged:
            self._blocked_logged.add(state.job_id)
            logger.warning("job %s is RUNNABLE and cannot start: %s", state.job_id, reason)

    def new_children(
        self, array_id: str, status: str, seen: set[str], expected: int
    ) -> dict[str, JobState]:
        """Children of `array_id` in `status` that are not in `seen` (added to it), reading
        ListJobs pages of up to 1,000 only until `expected` new ones were found.

        Args:
            array_id: the array (parent) job's id.
            status: an AWS Batch job status, e.g. `"SUCCEEDED"`.
            seen: ids already known; the new ones are added to it.
            expected: how many new ones to look for before stopping.

        Returns:
            The new children's states, by id.
        """
        found: dict[str, JobState] = {}
        for page in self.reads.pages(arrayJobId=array_id, jobStatus=status,
                                     maxResults=LIST_JOBS_MAX_RESULTS):  # fmt: skip
            for summary in page:
                if summary["jobId"] not in seen:
                    seen.add(summary["jobId"])
                    found[summary["jobId"]] = summary_state(summary)
            if len(found) >= expected:
                break
        return found

    def _pause(self, interval: float, deadline: float | None) -> float:
        pause = interval
        if self.adaptive:
            pause *= 1 + JITTER * (2 * self._random() - 1)
        if deadline is not None:
            pause = min(pause, max(deadline - self._clock(), 0.0))
        return pause

    def _next_interval(self, interval: float, *, changed: bool) -> float:
        if not self.adaptive:
            return interval
        if changed:
            return self.min_interval_seconds
        return min(max(interval, 1e-3) * 2, self.polling_interval_seconds)
