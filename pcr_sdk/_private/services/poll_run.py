"""One wait over a set of jobs, as an iterator of polling cycles (what `Poller.run` returns)."""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping

from pcr_sdk._private.edge.governor import Clock
from pcr_sdk._private.errors import WaitTimeoutError
from pcr_sdk._private.model.results import JobState
from pcr_sdk._private.services.poller import Poller, PollProgress, expired_state, parent_of
from pcr_sdk._private.wire.facts import LIST_JOBS_MAX_RESULTS, JobStatus

logger = logging.getLogger("pcr_sdk._private.services.poller")  # one logger for waiting, as before


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
