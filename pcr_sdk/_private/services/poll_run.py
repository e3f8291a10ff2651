"""One wait over a set of jobs, as an iterator of polling cycles (what `Poller.run` returns)."""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from pcr_sdk._private.errors import WaitTimeoutError
from pcr_sdk._private.model.results import JobState, expired_state, parent_of
from pcr_sdk._private.public import public
from pcr_sdk._private.services.pacing import DeadlineReached, Pacing
from pcr_sdk._private.wire.facts import BLOCKED_REASON_PREFIXES, LIST_JOBS_MAX_RESULTS, JobStatus

logger = logging.getLogger("pcr_sdk._private.services.poller")  # one logger for waiting


class JobReader(Protocol):
    """What a wait reads from AWS Batch (`Poller` is one)."""

    def describe(self, job_ids: Sequence[str]) -> dict[str, JobState]:
        """The current state of `job_ids`; ids AWS Batch no longer knows are left out."""
        ...

    def failed_children(self, array_id: str) -> dict[str, JobState]:
        """The FAILED children of array job `array_id`."""
        ...

    def new_children(
        self, array_id: str, status: str, seen: set[str], expected: int
    ) -> dict[str, JobState]:
        """Children of `array_id` in `status` not in `seen` (added to it), up to `expected`."""
        ...


@public("pcr_sdk")
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


@public("pcr_sdk.advanced")
class PollRun:
    """One wait over a set of jobs, as an iterator: each polling cycle yields the final states of
    the jobs it saw finish (each job once); `states` holds every state seen so far.

    Stopping the iteration early leaves nothing half-done: the next cycle simply never runs.
    With `identify`, a cycle in which a running array's statusSummary shows more SUCCEEDED
    children than are known lists them (ListJobs, pages of up to 1,000, read only until the new
    ones were found), provided the pages such a listing may take are no more than one per 100 of
    the newly counted children; otherwise they are learned later (at the latest when their
    parent finishes, like `wait` does). FAILED children are found as `wait` finds them.

    `Poller.run` makes one; nothing else needs to.

    Args:
        reader: what the run reads AWS Batch through (the poller).
        pacing: its pauses, deadline and expiry rule (the poller's).
        job_ids: the jobs to wait for.
        arrays: ids of array parents among `job_ids` whose children to follow.
        known: states seen before, by job id.
        on_progress: called after each polling cycle with the counts so far.
        timeout: seconds to wait at most (None: no limit): a deadline, checked before every
            request; no request goes out, and no pause lasts, past it.
        identify: learn a running array's newly SUCCEEDED children as they finish.
        logged_blocked: ids of RUNNABLE jobs already logged as unable to start.
        started: the clock time the timeout counts from (None: now).
    """

    def __init__(
        self,
        reader: JobReader,
        pacing: Pacing,
        job_ids: Iterable[str],
        *,
        arrays: Iterable[str],
        known: Mapping[str, JobState] | None,
        on_progress: Callable[[PollProgress], None] | None,
        timeout: float | None,
        identify: bool,
        logged_blocked: set[str],
        started: float | None = None,
    ) -> None:
        self._reader = reader
        self._pacing = pacing
        self._logged_blocked = logged_blocked
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
        self._missing = pacing.missing()
        self._started = pacing.now() if started is None else started
        self._deadline = pacing.deadline(timeout, self._started)
        self._interval = pacing.first_interval()
        self._cycle = 0

    def __iter__(self) -> Iterator[list[JobState]]:
        while self._plain or self._children:
            try:
                with self._pacing.bounded(self._deadline):
                    done = self._poll()
            except DeadlineReached:
                raise self._timed_out(self._pacing.now()) from None
            if done:
                yield [self.states[job_id] for job_id in done]
            if self._on_progress is not None:
                self._on_progress(self._progress())
            self._check_deadline()

    @property
    def unfinished(self) -> list[str]:
        """The ids of the jobs not seen finished yet."""
        return [*self._plain, *(c for cs in self._children.values() for c in cs)]

    def _done(self, job_id: str) -> bool:
        return self.states[job_id].status.is_finished

    def _poll(self) -> list[str]:
        """One cycle: sleep, describe the unfinished jobs (arrays through their parents)."""
        self._pacing.pause(self._interval, self._deadline)
        self._cycle += 1
        plain = self._plain
        asked = plain + list(self._children)
        fresh = self._reader.describe(asked)
        gone = self._missing.expired(asked, fresh)
        if gone:
            logger.warning(
                "AWS Batch no longer returns %d job(s) (e.g. %s): they count as EXPIRED",
                len(gone), gone[0],
            )  # fmt: skip
        for job_id in gone:
            fresh[job_id] = expired_state(job_id)
        self.states.update((i, fresh[i]) for i in plain if i in fresh)
        now = self._pacing.now()
        for job_id in plain:
            state = fresh.get(job_id)
            if state is not None and state.status is JobStatus.RUNNABLE:
                self._runnable_since.setdefault(job_id, now)
                self._note_blocked(state)
            else:
                self._runnable_since.pop(job_id, None)
        done = [i for i in plain if i in fresh and fresh[i].status.is_finished]
        self._plain = [i for i in plain if i not in fresh or not fresh[i].status.is_finished]
        done += self._poll_arrays(fresh)
        self._interval = self._pacing.next_interval(self._interval, changed=bool(done))
        return done

    def _note_blocked(self, state: JobState) -> None:
        """Remember (and log once per poller) a RUNNABLE job whose reason says it cannot start."""
        reason = state.status_reason or ""
        if not reason.startswith(BLOCKED_REASON_PREFIXES):
            return
        self._blocked[state.job_id] = reason
        if state.job_id not in self._logged_blocked:
            self._logged_blocked.add(state.job_id)
            logger.warning("job %s is RUNNABLE and cannot start: %s", state.job_id, reason)

    def _check_deadline(self) -> None:
        if not self.unfinished or self._deadline is None:
            return
        now = self._pacing.now()
        if now >= self._deadline:
            raise self._timed_out(now)

    def _timed_out(self, now: float) -> WaitTimeoutError:
        """The error of a wait that reached its deadline at `now` (it says the time taken)."""
        unfinished = self.unfinished
        runnable = {i: now - t for i, t in self._runnable_since.items() if i in unfinished}
        stuck = ""
        if self._blocked:
            first = next(iter(self._blocked))
            stuck = f"; {len(self._blocked)} cannot start, e.g. {first}: {self._blocked[first]}"
        elif runnable:
            stuck = f"; {len(runnable)} RUNNABLE (waiting for compute capacity)"
        return WaitTimeoutError(
            f"{len(unfinished)} of {len(self.ids)} jobs unfinished after "
            f"{now - self._started:.1f} s (timeout {self._timeout} s){stuck}",
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
        reader, waiting = self._reader, self._children[array_id]
        expected = (parent.children or {}).get("FAILED", 0)
        failed = reader.failed_children(array_id) if expected else {}
        if parent.status is JobStatus.FAILED and not parent.children and not failed:
            failed = reader.failed_children(array_id)
        self._failures_seen[array_id] = len(failed)
        done = [c for c in waiting if c in failed]
        details = reader.describe(done)  # reasons, exit codes and log streams for the callbacks
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
        found = self._reader.new_children(array_id, "SUCCEEDED", seen, new)
        waiting = self._children.get(array_id, [])
        done = [c for c in waiting if c in found]
        self.states.update((c, found[c]) for c in done)
        if done:
            self._children[array_id] = [c for c in waiting if c not in found]
        return done

    def _progress(self) -> PollProgress:
        """The counts after a cycle. The children of a running array are counted from its
        parent's statusSummary (already described this cycle: no extra call), so they count as
        finished as they finish, not only when the parent does."""
        waiting = {c for cs in self._children.values() for c in cs}
        counts: Counter[JobStatus] = Counter()
        settled: dict[str, Counter[JobStatus]] = {}
        for job_id in self.ids:
            if job_id in waiting or job_id not in self.states:
                continue
            status = self.states[job_id].status
            counts[status] += 1
            if parent_of(job_id) in self._children:
                settled.setdefault(parent_of(job_id), Counter())[status] += 1
        for array_id, children in self._children.items():
            parent = self._parent_states.get(array_id)
            if parent is not None and parent.children:
                estimate = _waiting_counts(parent.children, settled.get(array_id), len(children))
                counts.update(estimate)
        return PollProgress(
            cycle=self._cycle, total=len(self.ids), counts=dict(counts), blocked=dict(self._blocked)
        )


def _waiting_counts(
    summary: Mapping[str, int], settled: Counter[JobStatus] | None, waiting: int
) -> Counter[JobStatus]:
    """How many of an array's `waiting` children are in each status, from its statusSummary.

    The summary counts every child: those this run settled (`settled`) are taken out, then
    children this run does not follow (replaced by a rerun: finished, most likely FAILED),
    and what remains is capped at `waiting` (the least advanced statuses give way first).
    """
    left: Counter[JobStatus] = Counter()
    for name, number in summary.items():
        if name in JobStatus.__members__ and number > 0:
            left[JobStatus(name)] += number
    left.subtract(settled or Counter())
    left = +left  # drop what went negative
    extra = sum(left.values()) - waiting
    for status in (JobStatus.FAILED, JobStatus.SUCCEEDED, *JobStatus):
        if extra <= 0:
            break
        taken = min(extra, left[status])
        left[status] -= taken
        extra -= taken
    return +left


def _last_status(
    job_id: str, states: Mapping[str, JobState], parent_states: Mapping[str, JobState]
) -> str:
    state = states.get(job_id) or parent_states.get(parent_of(job_id))
    return state.status.value if state else "UNKNOWN"
