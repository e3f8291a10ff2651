"""Poller: DescribeJobs about unfinished jobs only, 100 ids a call, until every job finished."""

from __future__ import annotations

import dataclasses
import logging
import math
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from pcr_sdk._private.aws import BLOCKED_REASON_PREFIXES, JobStatus
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
    total: int
    counts: Mapping[JobStatus, int] = field(default_factory=dict)
    blocked: Mapping[str, str] = field(default_factory=dict)
    """RUNNABLE jobs AWS Batch says cannot start (e.g. no compute environment fits their vCPUs,
    memory or GPUs), with AWS's reason; they wait for ever unless something changes."""

    @property
    def succeeded(self) -> int:
        return self.counts.get(JobStatus.SUCCEEDED, 0)

    @property
    def failed(self) -> int:
        """Jobs that FAILED or EXPIRED."""
        return self.counts.get(JobStatus.FAILED, 0) + self.counts.get(JobStatus.EXPIRED, 0)

    @property
    def finished(self) -> int:
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
        """The current state of `job_ids`; ids AWS Batch no longer knows are left out."""
        return {d["jobId"]: job_state(d) for d in self.reads.describe(job_ids)}

    def failed_children(self, array_id: str) -> dict[str, JobState]:
        """The FAILED children of array job `array_id` (ListJobs, every page)."""
        return self.children(array_id, ("FAILED",))

    def children(self, array_id: str, statuses: Iterable[str]) -> dict[str, JobState]:
        """The children of array job `array_id` in `statuses` (ListJobs per status, paged)."""
        states: dict[str, JobState] = {}
        for status in statuses:
            for page in self.reads.pages(arrayJobId=array_id, jobStatus=status):
                for summary in page:
                    states[summary["jobId"]] = summary_state(summary)
        return states

    def all_children(self, array_id: str, parent: JobState) -> dict[str, JobState]:
        """Every child of `array_id` with its state: ListJobs only for the statuses its
        statusSummary shows (SUCCEEDED and FAILED only, once the parent finished)."""
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
        no callback). Raises `WaitTimeoutError` once `timeout` seconds have passed.
        """
        timeout = check_timeout(timeout)
        ids = list(dict.fromkeys(job_ids))
        parents = set(arrays)
        states: dict[str, JobState] = {i: known[i] for i in ids if known and i in known}
        unfinished = {i for i in ids if i not in states or not states[i].status.is_finished}
        children: dict[str, list[str]] = {}
        for job_id in ids:
            if job_id in unfinished and parent_of(job_id) in parents:
                children.setdefault(parent_of(job_id), []).append(job_id)
        plain = [i for i in ids if i in unfinished and parent_of(i) not in parents]
        parent_states: dict[str, JobState] = {}
        failures_seen: Counter[str] = Counter()
        runnable_since: dict[str, float] = {}  # how long a job waits for capacity
        blocked: dict[str, str] = {}  # RUNNABLE jobs that block their queue, and why
        missing = _Missing(self._clock, self.expiry_seconds)
        deadline = None if timeout is None else self._clock() + timeout
        interval = self.min_interval_seconds if self.adaptive else self.polling_interval_seconds
        cycle = 0
        while plain or children:
            self._sleep(self._pause(interval, deadline))
            cycle += 1
            asked = plain + list(children)
            fresh = self.describe(asked)
            gone = missing.expired(asked, fresh)
            if gone:
                logger.warning(
                    "AWS Batch no longer returns %d job(s) (e.g. %s): they count as EXPIRED",
                    len(gone), gone[0],
                )  # fmt: skip
            for job_id in gone:
                fresh[job_id] = expired_state(job_id)
            states.update((i, fresh[i]) for i in plain if i in fresh)
            now = self._clock()
            for job_id in plain:
                state = fresh.get(job_id)
                if state is not None and state.status is JobStatus.RUNNABLE:
                    runnable_since.setdefault(job_id, now)
                    self._note_blocked(state, blocked)
                else:
                    runnable_since.pop(job_id, None)
            done = [i for i in plain if i in fresh and fresh[i].status.is_finished]
            plain = [i for i in plain if i not in fresh or not fresh[i].status.is_finished]
            done += self._poll_arrays(fresh, children, parent_states, failures_seen, states)
            if on_finished is not None:
                for job_id in done:
                    on_finished(states[job_id])
            if on_progress is not None:
                progress = self._progress(cycle, ids, states, children, parent_states)
                on_progress(dataclasses.replace(progress, blocked=dict(blocked)))
            interval = self._next_interval(interval, changed=bool(done))
            unfinished_now = [*plain, *(c for cs in children.values() for c in cs)]
            if unfinished_now and deadline is not None and self._clock() >= deadline:
                raise self._timed_out(timeout, ids, unfinished_now, states, parent_states,
                                      runnable_since, blocked)  # fmt: skip
        return states

    def _note_blocked(self, state: JobState, blocked: dict[str, str]) -> None:
        reason = state.status_reason or ""
        if not reason.startswith(BLOCKED_REASON_PREFIXES):
            return
        blocked[state.job_id] = reason
        if state.job_id not in self._blocked_logged:
            self._blocked_logged.add(state.job_id)
            logger.warning("job %s is RUNNABLE and cannot start: %s", state.job_id, reason)

    def _timed_out(
        self,
        timeout: float | None,
        ids: Sequence[str],
        unfinished: Sequence[str],
        states: Mapping[str, JobState],
        parent_states: Mapping[str, JobState],
        runnable_since: Mapping[str, float],
        blocked: Mapping[str, str],
    ) -> WaitTimeoutError:
        now = self._clock()
        runnable = {i: now - t for i, t in runnable_since.items() if i in unfinished}
        stuck = ""
        if blocked:
            first = next(iter(blocked))
            stuck = f"; {len(blocked)} cannot start, e.g. {first}: {blocked[first]}"
        elif runnable:
            stuck = f"; {len(runnable)} RUNNABLE (waiting for compute capacity)"
        return WaitTimeoutError(
            f"{len(unfinished)} of {len(ids)} jobs unfinished after {timeout} s{stuck}",
            unfinished={i: _last_status(i, states, parent_states) for i in unfinished},
            runnable_seconds=runnable,
            blocked=dict(blocked),
        )

    def _poll_arrays(
        self,
        fresh: Mapping[str, JobState],
        children: dict[str, list[str]],
        parent_states: dict[str, JobState],
        failures_seen: Counter[str],
        states: dict[str, JobState],
    ) -> list[str]:
        """Settle the children of every array whose parent finished or shows new failures."""
        done: list[str] = []
        for array_id in list(children):
            parent = fresh.get(array_id)
            if parent is None:
                continue
            parent_states[array_id] = parent
            if parent.status is JobStatus.EXPIRED:
                for child in children.pop(array_id):
                    states[child] = expired_state(child)
                    done.append(child)
                continue
            failed_now = (parent.children or {}).get("FAILED", 0)
            if parent.status.is_finished or failed_now > failures_seen[array_id]:
                done += self._settle(array_id, parent, children, states, failures_seen)
        return done

    def _settle(
        self,
        array_id: str,
        parent: JobState,
        children: dict[str, list[str]],
        states: dict[str, JobState],
        failures_seen: Counter[str],
    ) -> list[str]:
        """Record the children of `array_id` that are known finished; return their ids.

        The children that are not listed FAILED count as SUCCEEDED once the parent finished,
        but only when ListJobs lists as many FAILED children as the parent's statusSummary
        counts: ListJobs is eventually consistent, and a failure it does not show yet must not
        pass for a success (the next cycle lists again).
        """
        waiting = children[array_id]
        expected = (parent.children or {}).get("FAILED", 0)
        failed = self.failed_children(array_id) if expected else {}
        if parent.status is JobStatus.FAILED and not parent.children and not failed:
            failed = self.failed_children(array_id)
        failures_seen[array_id] = len(failed)
        done = [c for c in waiting if c in failed]
        details = self.describe(done)  # reasons, exit codes and log streams for the callbacks
        for child in done:
            states[child] = details.get(child, failed[child])
        if parent.status.is_finished and len(failed) >= expected:
            rest = [c for c in waiting if c not in failed]
            for child in rest:
                states[child] = JobState(child, JobStatus.SUCCEEDED, summary_only=True)
            done += rest
            del children[array_id]
        else:
            children[array_id] = [c for c in waiting if c not in failed]
        return done

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

    @staticmethod
    def _progress(
        cycle: int,
        ids: Sequence[str],
        states: Mapping[str, JobState],
        children: Mapping[str, list[str]],
        parent_states: Mapping[str, JobState],
    ) -> PollProgress:
        counts = Counter(states[i].status for i in ids if i in states)
        for array_id in children:
            summary = (
                parent_states.get(array_id) or JobState(array_id, JobStatus.SUBMITTED)
            ).children
            for status, n in (summary or {}).items():
                if status not in ("SUCCEEDED", "FAILED"):
                    counts[JobStatus(status)] += n
        return PollProgress(cycle=cycle, total=len(ids), counts=dict(counts))


def _last_status(
    job_id: str, states: Mapping[str, JobState], parent_states: Mapping[str, JobState]
) -> str:
    state = states.get(job_id) or parent_states.get(parent_of(job_id))
    return state.status.value if state else "UNKNOWN"
