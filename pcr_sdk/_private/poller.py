"""Poller: DescribeJobs about unfinished jobs only, 100 ids a call, until every job finished."""

from __future__ import annotations

import logging
import math
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from pcr_sdk._private.aws import BLOCKED_REASON_PREFIXES, LIST_JOBS_MAX_RESULTS, JobStatus
from pcr_sdk._private.errors import PcrInputError, WaitTimeoutError, guard_public_methods
from pcr_sdk._private.governor import Clock, RateGovernor, Sleep
from pcr_sdk._private.models import JobState
from pcr_sdk._private.scan import BatchReads

if TYPE_CHECKING:
    from mypy_boto3_batch import BatchClient
    from mypy_boto3_batch.type_defs import JobDetailTypeDef, JobSummaryTypeDef

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


class _Missing:
    """Jobs DescribeJobs omitted: since when, and whether two looks far enough apart agree."""

    def __init__(self, clock: Clock, expiry_seconds: float) -> None:
        self._clock = clock
        self._expiry = expiry_seconds
        self._since: dict[str, float] = {}

    def expired(self, asked: Iterable[str], returned: Mapping[str, object]) -> list[str]:
        now = self._clock()
        gone: list[str] = []
        for job_id in asked:
            if job_id in returned:
                self._since.pop(job_id, None)
                continue
            first = self._since.setdefault(job_id, now)
            if first < now and now - first >= self._expiry:
                gone.append(job_id)
        return gone


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


class PollRun:
    """One wait over a set of jobs, as an iterator: each polling cycle yields the final states of
    the jobs it saw finish (each job once); `states` holds every state seen so far.

    Stopping the iteration early leaves nothing half-done: the next cycle simply never runs.
    With `identify`, a cycle in which a running array's statusSummary shows more SUCCEEDED
    children than are known lists them (ListJobs, pages of up to 1,000, read only until the new
    ones were found), provided the pages such a listing may take are no more than one per 100 of
    the newly counted children; otherwise they are learned later (at the latest when their
    parent finishes, like `wait` does). FAILED children are found as `wait` finds them.
    """

    def __init__(
        self,
        poller: Poller,
        job_ids: Iterable[str],
        *,
        arrays: Iterable[str],
        known: Mapping[str, JobState] | None,
        on_progress: Callable[[PollProgress], None] | None,
        timeout: float | None,
        identify: bool,
    ) -> None:
        self._poller = poller
        self._on_progress = on_progress
        self._timeout = timeout
        self._identify = identify
        self.ids = list(dict.fromkeys(job_ids))
        parents = set(arrays)
        self.states: dict[str, JobState] = {i: known[i] for i in self.ids if known and i in known}
        unfinished = [i for i in self.ids if i not in self.states or not self._done(i)]
        self._plain = [i for i in unfinished if parent_of(i) not in parents]
        self._children: dict[str, list[str]] = {}
        self._succeeded: dict[str, set[str]] = {}  # per array: children known SUCCEEDED
        for job_id in self.ids:
            if parent_of(job_id) in parents:
                if job_id in unfinished:
                    self._children.setdefault(parent_of(job_id), []).append(job_id)
                elif self.states[job_id].status is JobStatus.SUCCEEDED:
                    self._succeeded.setdefault(parent_of(job_id), set()).add(job_id)
        self._parent_states: dict[str, JobState] = {}
        self._failures_seen: Counter[str] = Counter()
        self._runnable_since: dict[str, float] = {}  # how long a job waits for capacity
        self._blocked: dict[str, str] = {}  # RUNNABLE jobs that block their queue, and why
        self._missing = _Missing(poller._clock, poller.expiry_seconds)
        self._deadline = None if timeout is None else poller._clock() + timeout
        self._interval = poller.min_interval_seconds if poller.adaptive else (
            poller.polling_interval_seconds)  # fmt: skip
        self._cycle = 0

    def __iter__(self) -> Iterator[list[JobState]]:
        while self._plain or self._children:
            done = self._poll()
            if done:
                yield [self.states[job_id] for job_id in done]
            if self._on_progress is not None:
                self._on_progress(self._progress())
            self._check_deadline()

    @property
    def unfinished(self) -> list[str]:
        return [*self._plain, *(c for cs in self._children.values() for c in cs)]

    def _done(self, job_id: str) -> bool:
        return self.states[job_id].status.is_finished

    def _poll(self) -> list[str]:
        """One cycle: sleep, describe the unfinished jobs (arrays through their parents)."""
        poller = self._poller
        poller._sleep(poller._pause(self._interval, self._deadline))
        self._cycle += 1
        plain = self._plain
        asked = plain + list(self._children)
        fresh = poller.describe(asked)
        gone = self._missing.expired(asked, fresh)
        if gone:
            logger.warning(
                "AWS Batch no longer returns %d job(s) (e.g. %s): they count as EXPIRED",
                len(gone), gone[0],
            )  # fmt: skip
        for job_id in gone:
            fresh[job_id] = expired_state(job_id)
        self.states.update((i, fresh[i]) for i in plain if i in fresh)
        now = poller._clock()
        for job_id in plain:
            state = fresh.get(job_id)
            if state is not None and state.status is JobStatus.RUNNABLE:
                self._runnable_since.setdefault(job_id, now)
                poller._note_blocked(state, self._blocked)
            else:
                self._runnable_since.pop(job_id, None)
        done = [i for i in plain if i in fresh and fresh[i].status.is_finished]
        self._plain = [i for i in plain if i not in fresh or not fresh[i].status.is_finished]
        done += self._poll_arrays(fresh)
        self._interval = poller._next_interval(self._interval, changed=bool(done))
        return done

    def _check_deadline(self) -> None:
        unfinished = self.unfinished
        if not unfinished or self._deadline is None or self._poller._clock() < self._deadline:
            return
        now = self._poller._clock()
        runnable = {i: now - t for i, t in self._runnable_since.items() if i in unfinished}
        stuck = ""
        if self._blocked:
            first = next(iter(self._blocked))
            stuck = f"; {len(self._blocked)} cannot start, e.g. {first}: {self._blocked[first]}"
        elif runnable:
            stuck = f"; {len(runnable)} RUNNABLE (waiting for compute capacity)"
        raise WaitTimeoutError(
            f"{len(unfinished)} of {len(self.ids)} jobs unfinished after {self._timeout} s{stuck}",
            unfinished={i: _last_status(i, self.states, self._parent_states) for i in unfinished},
            runnable_seconds=runnable,
            blocked=dict(self._blocked),
        )

    def _poll_arrays(self, fresh: Mapping[str, JobState]) -> list[str]:
        """Settle the children of every array whose parent finished or shows new failures (or,
        with `identify`, new successes)."""
        done: list[str] = []
        for array_id in list(self._children):
            parent = fresh.get(array_id)
            if parent is None:
                continue
            self._parent_states[array_id] = parent
            if parent.status is JobStatus.EXPIRED:
                for child in self._children.pop(array_id):
                    self.states[child] = expired_state(child)
                    done.append(child)
                continue
            failed_now = (parent.children or {}).get("FAILED", 0)
            if parent.status.is_finished or failed_now > self._failures_seen[array_id]:
                done += self._settle(array_id, parent)
            if self._identify and not parent.status.is_finished:
                done += self._successes(array_id, parent)
        return done

    def _settle(self, array_id: str, parent: JobState) -> list[str]:
        """Record the children of `array_id` that are known finished; return their ids.

        The children that are not listed FAILED count as SUCCEEDED once the parent finished,
        but only when ListJobs lists as many FAILED children as the parent's statusSummary
        counts: ListJobs is eventually consistent, and a failure it does not show yet must not
        pass for a success (the next cycle lists again).
        """
        poller, waiting = self._poller, self._children[array_id]
        expected = (parent.children or {}).get("FAILED", 0)
        failed = poller.failed_children(array_id) if expected else {}
        if parent.status is JobStatus.FAILED and not parent.children and not failed:
            failed = poller.failed_children(array_id)
        self._failures_seen[array_id] = len(failed)
        done = [c for c in waiting if c in failed]
        details = poller.describe(done)  # reasons, exit codes and log streams for the callbacks
        for child in done:
            self.states[child] = details.get(child, failed[child])
        if parent.status.is_finished and len(failed) >= expected:
            rest = [c for c in waiting if c not in failed]
            for child in rest:
                self.states[child] = JobState(child, JobStatus.SUCCEEDED, summary_only=True)
            done += rest
            del self._children[array_id]
        else:
            self._children[array_id] = [c for c in waiting if c not in failed]
        return done

    def _successes(self, array_id: str, parent: JobState) -> list[str]:
        """The children of a running array that newly SUCCEEDED, if listing them is cheap enough
        (at most one ListJobs page per 100 of them)."""
        seen = self._succeeded.setdefault(array_id, set())
        count = (parent.children or {}).get("SUCCEEDED", 0)
        new = count - len(seen)
        if new <= 0 or math.ceil(count / LIST_JOBS_MAX_RESULTS) > math.ceil(new / 100):
            return []
        found = self._poller.new_children(array_id, "SUCCEEDED", seen, new)
        waiting = self._children.get(array_id, [])
        done = [c for c in waiting if c in found]
        self.states.update((c, found[c]) for c in done)
        if done:
            self._children[array_id] = [c for c in waiting if c not in found]
        return done

    def _progress(self) -> PollProgress:
        counts = Counter(self.states[i].status for i in self.ids if i in self.states)
        for array_id in self._children:
            summary = (
                self._parent_states.get(array_id) or JobState(array_id, JobStatus.SUBMITTED)
            ).children
            for status, n in (summary or {}).items():
                if status not in ("SUCCEEDED", "FAILED"):
                    counts[JobStatus(status)] += n
        return PollProgress(
            cycle=self._cycle, total=len(self.ids), counts=dict(counts), blocked=dict(self._blocked)
        )


def _last_status(
    job_id: str, states: Mapping[str, JobState], parent_states: Mapping[str, JobState]
) -> str:
    state = states.get(job_id) or parent_states.get(parent_of(job_id))
    return state.status.value if state else "UNKNOWN"
