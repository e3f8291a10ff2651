"""Poller: DescribeJobs about unfinished jobs only, 100 ids a call, until every job finished."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from pcr_sdk._private.errors import WaitTimeoutError, aws_call
from pcr_sdk._private.governor import Clock, RateGovernor, Sleep
from pcr_sdk._private.models import JobState, JobStatus

if TYPE_CHECKING:
    from mypy_boto3_batch import BatchClient
    from mypy_boto3_batch.type_defs import JobDetailTypeDef

logger = logging.getLogger(__name__)

DESCRIBE_JOBS_MAX_IDS: Final = 100


@dataclass(frozen=True)
class PollProgress:
    """A snapshot after one polling cycle: how many of `total` jobs are in each status."""

    cycle: int
    total: int
    counts: Mapping[JobStatus, int] = field(default_factory=dict)

    @property
    def succeeded(self) -> int:
        return self.counts.get(JobStatus.SUCCEEDED, 0)

    @property
    def failed(self) -> int:
        return self.counts.get(JobStatus.FAILED, 0)

    @property
    def finished(self) -> int:
        return self.succeeded + self.failed


def job_state(detail: JobDetailTypeDef) -> JobState:
    """Read one DescribeJobs entry into a `JobState`."""
    container = detail.get("container", {})
    attempts = detail.get("attempts", [])
    exit_code = container.get("exitCode")
    log_stream = container.get("logStreamName")
    if attempts:
        last = attempts[-1].get("container", {})
        exit_code = last.get("exitCode", exit_code)
        log_stream = last.get("logStreamName", log_stream)
    return JobState(
        job_id=detail["jobId"],
        status=JobStatus(detail["status"]),
        status_reason=detail.get("statusReason"),
        exit_code=exit_code,
        attempts=len(attempts),
        log_stream_name=log_stream,
    )


class Poller:
    """Waits for jobs the way the seed did, without its costs.

    Each cycle sleeps `polling_interval_seconds`, then describes only the unfinished jobs, at most
    100 ids a request, with at least `request_throttling_milliseconds` between requests. Every
    job's `on_finished` runs exactly once, when the poller first sees it finished.
    """

    def __init__(
        self,
        batch: BatchClient,
        *,
        polling_interval_seconds: float = 60,
        request_throttling_milliseconds: float = 200,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        if polling_interval_seconds < 0 or request_throttling_milliseconds < 0:
            raise ValueError("polling interval and request throttling must be >= 0")
        self._batch = batch
        self.polling_interval_seconds = polling_interval_seconds
        self._clock = clock
        self._sleep = sleep
        self._throttle = RateGovernor(
            1, request_throttling_milliseconds / 1000, clock=clock, sleep=sleep
        )

    def describe(self, job_ids: Sequence[str]) -> dict[str, JobState]:
        """The current state of `job_ids`; ids AWS Batch no longer knows are left out."""
        states: dict[str, JobState] = {}
        for start in range(0, len(job_ids), DESCRIBE_JOBS_MAX_IDS):
            chunk = list(job_ids[start : start + DESCRIBE_JOBS_MAX_IDS])
            self._throttle.acquire()
            with aws_call("DescribeJobs"):
                response = self._batch.describe_jobs(jobs=chunk)
            for detail in response["jobs"]:
                state = job_state(detail)
                states[state.job_id] = state
        return states

    def wait(
        self,
        job_ids: Iterable[str],
        *,
        known: Mapping[str, JobState] | None = None,
        on_finished: Callable[[JobState], None] | None = None,
        on_progress: Callable[[PollProgress], None] | None = None,
        timeout: float | None = None,
    ) -> dict[str, JobState]:
        """Poll until every job in `job_ids` is SUCCEEDED or FAILED; return their final states.

        `known` holds states seen before (finished ones are not asked about again and get no
        callback). Raises `WaitTimeoutError` once `timeout` seconds have passed.
        """
        ids = list(dict.fromkeys(job_ids))
        states: dict[str, JobState] = {i: known[i] for i in ids if known and i in known}
        pending = [i for i in ids if i not in states or not states[i].status.is_finished]
        deadline = None if timeout is None else self._clock() + timeout
        cycle = 0
        while pending:
            pause = self.polling_interval_seconds
            if deadline is not None:
                remaining = deadline - self._clock()
                pause = min(pause, max(remaining, 0.0))
            self._sleep(pause)
            cycle += 1
            fresh = self.describe(pending)
            missing = [i for i in pending if i not in fresh]
            if missing:
                logger.warning(
                    "DescribeJobs did not return %d job(s), e.g. %s", len(missing), missing[0]
                )
            states.update(fresh)
            done = [i for i in pending if i in fresh and fresh[i].status.is_finished]
            pending = [i for i in pending if i not in fresh or not fresh[i].status.is_finished]
            if on_finished is not None:
                for job_id in done:
                    on_finished(states[job_id])
            if on_progress is not None:
                counts = Counter(s.status for s in states.values())
                on_progress(PollProgress(cycle=cycle, total=len(ids), counts=dict(counts)))
            if pending and deadline is not None and self._clock() >= deadline:
                raise WaitTimeoutError(
                    f"{len(pending)} of {len(ids)} jobs unfinished after {timeout} s",
                    unfinished={
                        i: states[i].status.value if i in states else "UNKNOWN" for i in pending
                    },
                )
        return states
