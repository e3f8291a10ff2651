"""Poller: DescribeJobs about unfinished jobs only, 100 ids a call, until every job finished."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Final

from pcr_sdk._private.edge.governor import RateGovernor
from pcr_sdk._private.edge.reads import BatchReads
from pcr_sdk._private.model.results import JobState, job_state, summary_state
from pcr_sdk._private.model.settings import (
    EXPIRY_SECONDS,
    MIN_ADAPTIVE_INTERVAL_SECONDS,
    POLL_INTERVAL_SECONDS,
    REQUEST_SPACING_MS,
    PollSettings,
    build,
    finite,
    timeout_seconds,
)
from pcr_sdk._private.public import public
from pcr_sdk._private.seams import REAL, Seams
from pcr_sdk._private.services.pacing import Pacing
from pcr_sdk._private.services.poll_run import PollProgress, PollRun
from pcr_sdk._private.wire.facts import LIST_JOBS_MAX_RESULTS

if TYPE_CHECKING:
    from mypy_boto3_batch import BatchClient

logger = logging.getLogger(__name__)

_CHILD_STATUSES: Final = ("SUCCEEDED", "FAILED", "RUNNING", "STARTING", "RUNNABLE", "PENDING",
                          "SUBMITTED")  # fmt: skip


@public("pcr_sdk.advanced")
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
        seams: the clock, sleep and jitter's random numbers (for tests).

    Raises:
        PcrInputError: a number is negative, NaN or infinite.
    """

    def __init__(
        self,
        batch: BatchClient,
        *,
        polling_interval_seconds: float = POLL_INTERVAL_SECONDS,
        request_throttling_milliseconds: float = REQUEST_SPACING_MS,
        governor: RateGovernor | None = None,
        adaptive: bool = False,
        min_interval_seconds: float = MIN_ADAPTIVE_INTERVAL_SECONDS,
        expiry_seconds: float = EXPIRY_SECONDS,
        seams: Seams = REAL,
    ) -> None:
        settings = build(
            PollSettings, interval_seconds=polling_interval_seconds,
            request_spacing_ms=request_throttling_milliseconds, adaptive=adaptive,
            min_interval_seconds=min_interval_seconds, expiry_seconds=expiry_seconds,
        )  # fmt: skip
        self._settings = settings
        self._pacing = Pacing(settings, seams)
        self._governor = governor
        self._throttle = RateGovernor(
            1, settings.request_spacing_ms / 1000, clock=seams.clock, sleep=seams.sleep
        )
        self.reads = BatchReads(batch, acquire=self._acquire, throttle_listener=governor)
        self._blocked_logged: set[str] = set()

    @property
    def polling_interval_seconds(self) -> float:
        """The pause between two polling cycles (the longest one, when adaptive)."""
        return self._settings.interval_seconds

    @property
    def adaptive(self) -> bool:
        """Whether waits poll soon after a change and back off while nothing changes."""
        return self._settings.adaptive

    @property
    def expiry_seconds(self) -> float:
        """How far apart two looks must both miss a job before it is EXPIRED."""
        return self._settings.expiry_seconds

    def _acquire(self) -> None:
        self._pacing.admit(self._throttle, self._governor)

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
        started: float | None = None,
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
            timeout: seconds to wait at most (default: no limit): a deadline, checked before
                every request; no request goes out, and no pause lasts, past it.
            started: the clock time the timeout counts from (default: now), for a wait that
                did other work first.

        Returns:
            Every job's final state, by id.

        Raises:
            PcrInputError: `timeout` is negative, NaN or infinite.
            WaitTimeoutError: `timeout` ran out (the error says how long the wait took).
            AwsError: a poll failed beyond botocore's retries.
        """
        run = self.run(job_ids, arrays=arrays, known=known, on_progress=on_progress,
                       timeout=timeout, started=started)  # fmt: skip
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
        started: float | None = None,
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
            started: as for `wait`.

        Returns:
            The run; iterating it polls.

        Raises:
            PcrInputError: `timeout` is negative, NaN or infinite, or `started` is not a
                finite number.
        """
        if started is not None:
            started = finite("started", started)
        return PollRun(self, self._pacing, job_ids, arrays=arrays, known=known,
                       on_progress=on_progress, timeout=timeout_seconds(timeout),
                       identify=identify, logged_blocked=self._blocked_logged,
                       started=started)  # fmt: skip

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
