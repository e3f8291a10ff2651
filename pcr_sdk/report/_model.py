"""The report's data: one `ReportJob` per job, and `BatchReport`, every figure the page shows.

Pure computation on plain values (epoch milliseconds, strings): no AWS call, no clock read
unless the caller leaves `now_ms` out, so every figure can be checked against hand-written
timestamps.
"""

from __future__ import annotations

import math
import statistics
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from pcr_sdk._private.public import public

if TYPE_CHECKING:
    from mypy_boto3_batch.type_defs import ContainerDetailTypeDef, JobDetailTypeDef

STATUS_ORDER: Final = (
    "SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED", "EXPIRED",
)  # fmt: skip
"""AWS Batch's seven statuses in their order, then pcr-sdk's own EXPIRED. Plain strings, kept
here rather than imported: the report reads any status it is given, even one the SDK's enums
do not have yet."""
FINISHED_STATUSES: Final = frozenset({"SUCCEEDED", "FAILED", "EXPIRED"})
"""Nothing about a job in one of these changes any more."""
FAILURE_KINDS: Final = (
    "non-zero-exit", "out-of-memory", "timeout", "cancelled", "terminated", "dependency-failed",
    "infrastructure", "expired",
)  # fmt: skip
"""The failure kinds the report knows, in the order it lists them; others are kept as given."""
UNKNOWN_FAILURE: Final = "unknown"
"""The kind counted for a FAILED job that came without one."""
DEFAULT_SLOWEST: Final = 10
DEFAULT_FAILED_LIMIT: Final = 50
_MS_PER_HOUR: Final = 3_600_000
JSON_SCHEMA: Final = "pcr-report/1"


@public("pcr_sdk.report")
@dataclass(frozen=True, slots=True, kw_only=True)
class ReportJob:
    """One job as the report needs it. Timestamps are epoch milliseconds, None when unknown.

    A job still waiting has no `started_at`; a job still running has no `stopped_at`.
    `vcpus`, `gpus` and `memory_mib` are 0 when unknown.
    """

    job_id: str
    index: int
    """The job's position in the batch."""
    status: str
    """SUBMITTED .. FAILED, or pcr-sdk's EXPIRED."""
    failure: str | None = None
    """A failure kind such as "out-of-memory", or None for a job that did not fail."""
    status_reason: str | None = None
    created_at: int | None = None
    started_at: int | None = None
    stopped_at: int | None = None
    depends_on: tuple[str, ...] = ()
    vcpus: float = 0.0
    gpus: int = 0
    memory_mib: int = 0
    attempts: int = 0
    """AWS Batch's attempts of this job (its `attempts` list): more than 1 when AWS Batch
    retried it (its retry strategy)."""
    attempt: int = 1
    """1 for the job first submitted at `index`, 2, 3, ... for its reruns (`pcr retry`,
    `resubmit_failed`; `SubmittedJob.attempt`): the highest is the index's current job."""
    array_id: str | None = None
    """The array parent's id for a child of an array job (whose id is `<array_id>:<i>`)."""
    log_tail: tuple[str, ...] = ()
    """The last lines of the job's log, oldest first."""

    @property
    def finished(self) -> bool:
        """SUCCEEDED, FAILED or EXPIRED."""
        return self.status in FINISHED_STATUSES

    @property
    def failed(self) -> bool:
        """FAILED, or given a failure kind (an EXPIRED job may be)."""
        return self.status == "FAILED" or self.failure is not None

    @classmethod
    def from_detail(
        cls,
        detail: JobDetailTypeDef,
        *,
        index: int,
        failure: str | None,
        log_tail: Sequence[str] = (),
        attempt: int = 1,
    ) -> ReportJob:
        """Build from one entry of DescribeJobs' `jobs`; the caller knows index, failure and
        (for a rerun) attempt.

        A job whose id is `<array>:<i>` is a child of array `<array>` (moto leaves out the
        child's `arrayProperties.index`, so the id decides).
        """
        job_id = detail["jobId"]
        vcpus, gpus, memory_mib = _resources(detail.get("container"))
        parent, _, suffix = job_id.rpartition(":")
        child = bool(parent) and ("index" in detail.get("arrayProperties", {}) or suffix.isdigit())
        return cls(
            job_id=job_id,
            index=index,
            status=detail["status"],
            failure=failure,
            status_reason=detail.get("statusReason"),
            created_at=_timestamp(detail.get("createdAt")),
            started_at=_timestamp(detail.get("startedAt")),
            stopped_at=_timestamp(detail.get("stoppedAt")),
            depends_on=tuple(d["jobId"] for d in detail.get("dependsOn", []) if d.get("jobId")),
            vcpus=vcpus,
            gpus=gpus,
            memory_mib=memory_mib,
            attempts=len(detail.get("attempts", [])),
            attempt=attempt,
            array_id=parent if child else None,
            log_tail=tuple(log_tail),
        )


def _timestamp(value: int | None) -> int | None:
    """AWS's epoch milliseconds; None (or a nonsensical 0) means not reached."""
    return value if value is not None and value > 0 else None


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        return 0.0
    return value if math.isfinite(value) and value > 0 else 0.0


def _resources(container: ContainerDetailTypeDef | None) -> tuple[float, int, int]:
    """(vCPUs, GPUs, MiB) from resourceRequirements, else the legacy vcpus and memory fields."""
    if container is None:
        return 0.0, 0, 0
    found = {r["type"]: _number(r["value"]) for r in container.get("resourceRequirements", [])}
    vcpus = found.get("VCPU", float(container.get("vcpus") or 0))
    memory = found.get("MEMORY", float(container.get("memory") or 0))
    return vcpus, int(found.get("GPU", 0)), int(memory)


@public("pcr_sdk.report")
@dataclass(frozen=True, slots=True)
class JobTiming:
    """One job with the durations the report derives from it (milliseconds, None if unknown).

    `ready_at` is when the job could first run: the later of its creation and its last
    dependency's stop. `wait_ms` runs from `ready_at` to its start; `run_ms` from its start to
    its stop, or to the report's `now_ms` while it still runs. `end_at` is where its bar ends:
    its stop, `now_ms` while unfinished, or its last known timestamp.
    """

    job: ReportJob
    ready_at: int | None
    wait_ms: int | None
    run_ms: int | None
    end_at: int | None
    running_now: bool
    """Started, not finished: `run_ms` is measured up to `now_ms`."""

    def to_json(self) -> dict[str, Any]:
        """The job's fields and derived durations as JSON values."""
        job = self.job
        return {
            "index": job.index,
            "job_id": job.job_id,
            "status": job.status,
            "failure": job.failure,
            "status_reason": job.status_reason,
            "created_at": job.created_at,
            "started_at": job.started_at,
            "stopped_at": job.stopped_at,
            "ready_at": self.ready_at,
            "wait_ms": self.wait_ms,
            "run_ms": self.run_ms,
            "running_now": self.running_now,
            "depends_on": list(job.depends_on),
            "array_id": job.array_id,
            "vcpus": job.vcpus,
            "gpus": job.gpus,
            "memory_mib": job.memory_mib,
            "attempts": job.attempts,
            "attempt": job.attempt,
            "log_tail": list(job.log_tail),
        }


@public("pcr_sdk.report")
@dataclass(frozen=True, slots=True, kw_only=True)
class BatchReport:
    """Every figure of a batch report, computed once by `BatchReport.build`.

    A job is an index of the batch; a rerun (`pcr retry`) is a later attempt at its index.
    Each index's highest attempt is its current job (`timings`), the others are `earlier`.
    Durations are milliseconds, None when no attempt has the timestamps they need; the time
    and resource figures count every attempt (each ran and was paid for), the counts by
    status and failure kind the current jobs.
    """

    batch_id: str
    now_ms: int
    """When the report was made: the end of still-running jobs and of an unfinished batch."""
    timings: tuple[JobTiming, ...]
    """Every index's current job (its highest attempt), by index."""
    earlier: tuple[JobTiming, ...]
    """The attempts a rerun replaced, by index then attempt."""
    finished: bool
    """Every current job is SUCCEEDED, FAILED or EXPIRED."""
    counts_by_status: Mapping[str, int]
    counts_by_failure: Mapping[str, int]
    """The current jobs' failures, by kind."""
    earlier_failures: Mapping[str, int]
    """The failures of the attempts a rerun replaced, by kind."""
    first_created_ms: int | None
    end_ms: int | None
    """The last stop of a finished batch, `now_ms` while it still runs."""
    wall_ms: int | None
    run_total_ms: int
    run_median_ms: float | None
    run_jobs: int
    """How many attempts have a run time (started; stopped or still running)."""
    wait_median_ms: float | None
    wait_p95_ms: float | None
    wait_jobs: int
    """How many attempts have a wait (started, with a creation time)."""
    vcpu_hours: float
    gpu_hours: float
    attempts: int
    """AWS Batch's attempts over every job and rerun."""
    retries: int
    """AWS Batch's retries: its attempts beyond each job's first, summed (reruns apart)."""
    jobs_retried: int
    """Jobs and reruns AWS Batch retried at least once."""
    reruns: int
    """Jobs submitted again at their index (attempt 2 and higher)."""
    jobs_rerun: int
    """Indexes with more than one attempt."""
    slowest: tuple[JobTiming, ...]
    """The longest runs of any attempt, longest first."""
    failed: tuple[JobTiming, ...]
    """Failed current jobs by index, at most the `failed_limit` given to `build`."""
    failed_total: int
    earlier_listed: tuple[JobTiming, ...] = ()
    """The attempts reruns replaced that the page lists: the first `failed_limit` of
    `earlier`."""
    undrawn: int
    """Jobs with no timestamp at all, which the timeline cannot place."""

    @property
    def jobs(self) -> tuple[ReportJob, ...]:
        """Every index's current job, by index."""
        return tuple(t.job for t in self.timings)

    @property
    def rows(self) -> tuple[tuple[JobTiming, ...], ...]:
        """Each index's attempts, oldest first (its current job last), by index."""
        before: dict[int, list[JobTiming]] = {}
        for timing in self.earlier:
            before.setdefault(timing.job.index, []).append(timing)
        return tuple((*before.get(t.job.index, ()), t) for t in self.timings)

    @property
    def failed_not_listed(self) -> int:
        """Failed jobs beyond those in `failed`."""
        return self.failed_total - len(self.failed)

    @classmethod
    def build(
        cls,
        batch_id: str,
        jobs: Iterable[ReportJob],
        *,
        now_ms: int | None = None,
        slowest: int = DEFAULT_SLOWEST,
        failed_limit: int = DEFAULT_FAILED_LIMIT,
    ) -> BatchReport:
        """Compute every figure; `now_ms` (default: the clock) ends what is still running.

        `jobs` may hold several attempts of an index (`ReportJob.attempt`): the highest is
        the index's current job, the others are what reruns replaced.
        """
        now = int(time.time() * 1000) if now_ms is None else now_ms
        everything = sorted(jobs, key=lambda j: (j.index, j.attempt, j.job_id))
        current: dict[int, ReportJob] = {}
        for job in everything:
            current[job.index] = job  # the highest attempt comes last
        ordered = [current[i] for i in sorted(current)]
        replaced = [j for j in everything if current[j.index] is not j]
        resolve = _DependencyStops(everything)
        timings = tuple(_timing(job, resolve.last_stop(job), now) for job in ordered)
        earlier = tuple(_timing(job, resolve.last_stop(job), now) for job in replaced)
        every = timings + earlier
        finished = all(j.finished for j in ordered)
        created = [j.created_at for j in everything if j.created_at is not None]
        stopped = [j.stopped_at for j in everything if j.stopped_at is not None]
        first = min(created) if created else None
        end = (max(stopped) if stopped else None) if finished else now
        runs = [t.run_ms for t in every if t.run_ms is not None]
        waits = sorted(t.wait_ms for t in every if t.wait_ms is not None)
        failed = [t for t in timings if t.job.failed]
        ranked = sorted(
            (t for t in every if t.run_ms is not None),
            key=lambda t: (-(t.run_ms or 0), t.job.index, t.job.attempt),
        )
        return cls(
            batch_id=batch_id,
            now_ms=now,
            timings=timings,
            earlier=earlier,
            finished=finished,
            counts_by_status=_ordered_counts((j.status for j in ordered), STATUS_ORDER),
            counts_by_failure=_failure_counts(ordered),
            earlier_failures=_failure_counts(replaced),
            first_created_ms=first,
            end_ms=end,
            wall_ms=max(0, end - first) if first is not None and end is not None else None,
            run_total_ms=sum(runs),
            run_median_ms=float(statistics.median(runs)) if runs else None,
            run_jobs=len(runs),
            wait_median_ms=float(statistics.median(waits)) if waits else None,
            wait_p95_ms=float(percentile(waits, 95)) if waits else None,
            wait_jobs=len(waits),
            vcpu_hours=sum(t.job.vcpus * (t.run_ms or 0) for t in every) / _MS_PER_HOUR,
            gpu_hours=sum(t.job.gpus * (t.run_ms or 0) for t in every) / _MS_PER_HOUR,
            attempts=sum(max(0, j.attempts) for j in everything),
            retries=sum(max(0, j.attempts - 1) for j in everything),
            jobs_retried=sum(1 for j in everything if j.attempts > 1),
            reruns=sum(1 for j in everything if j.attempt > 1),
            jobs_rerun=len({j.index for j in replaced}),
            slowest=tuple(ranked[: max(0, slowest)]),
            failed=tuple(failed[: max(0, failed_limit)]),
            failed_total=len(failed),
            earlier_listed=earlier[: max(0, failed_limit)],
            undrawn=sum(1 for t in timings if _first_timestamp(t.job) is None),
        )

    def to_json(self) -> dict[str, Any]:
        """The report as JSON values: `schema`, `summary`, `slowest`, `failed`, `jobs`,
        `earlier`.

        `slowest` and `failed` hold job ids (`failed` all of them, uncapped); `jobs` holds one
        record per index, its current job (see `JobTiming.to_json`), and `earlier` one per
        attempt a rerun replaced. docs/report.md describes each key.
        """
        return {
            "schema": JSON_SCHEMA,
            "summary": {
                "batch_id": self.batch_id,
                "now_ms": self.now_ms,
                "finished": self.finished,
                "jobs": len(self.timings),
                "counts_by_status": dict(self.counts_by_status),
                "counts_by_failure": dict(self.counts_by_failure),
                "earlier_failures": dict(self.earlier_failures),
                "first_created_ms": self.first_created_ms,
                "end_ms": self.end_ms,
                "wall_ms": self.wall_ms,
                "run_total_ms": self.run_total_ms,
                "run_median_ms": self.run_median_ms,
                "run_jobs": self.run_jobs,
                "wait_median_ms": self.wait_median_ms,
                "wait_p95_ms": self.wait_p95_ms,
                "wait_jobs": self.wait_jobs,
                "wait_measured_from": "max(createdAt, last dependency's stoppedAt)",
                "vcpu_hours": self.vcpu_hours,
                "gpu_hours": self.gpu_hours,
                "attempts": self.attempts,
                "retries": self.retries,
                "jobs_retried": self.jobs_retried,
                "reruns": self.reruns,
                "jobs_rerun": self.jobs_rerun,
                "failed_total": self.failed_total,
                "undrawn": self.undrawn,
            },
            "slowest": [t.job.job_id for t in self.slowest],
            "failed": [t.job.job_id for t in self.timings if t.job.failed],
            "jobs": [t.to_json() for t in self.timings],
            "earlier": [t.to_json() for t in self.earlier],
        }


def _failure_counts(jobs: Iterable[ReportJob]) -> dict[str, int]:
    return _ordered_counts((j.failure or UNKNOWN_FAILURE for j in jobs if j.failed), FAILURE_KINDS)


def percentile(ordered: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending, non-empty sequence (p95: 95% are <= it)."""
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def _ordered_counts(values: Iterable[str], order: Sequence[str]) -> dict[str, int]:
    """Counts, known keys in `order` first, then the others alphabetically; zeros left out."""
    counts = Counter(values)
    known = [k for k in order if counts[k]]
    return {k: counts[k] for k in known + sorted(set(counts) - set(order))}


def _first_timestamp(job: ReportJob) -> int | None:
    for value in (job.created_at, job.started_at, job.stopped_at):
        if value is not None:
            return value
    return None


class _DependencyStops:
    """Finds when a job's dependencies stopped, within the report's own job list.

    A dependency names a job id; `<array>:<i>` is a child's own id; a bare array id that no
    job carries stands for all its children (the array stops with its last child). A child's
    dependency on its own array is ignored: that would be the child waiting for itself.
    """

    def __init__(self, jobs: Sequence[ReportJob]) -> None:
        self._by_id = {j.job_id: j for j in jobs}
        children: dict[str, list[int | None]] = {}
        for job in jobs:
            if job.array_id is not None:
                children.setdefault(job.array_id, []).append(job.stopped_at)
        self._array_stop = {
            array: max((s for s in stops if s is not None), default=None)
            for array, stops in children.items()
        }

    def stop(self, dep_id: str) -> int | None:
        job = self._by_id.get(dep_id)
        if job is not None and job.stopped_at is not None:
            return job.stopped_at
        return self._array_stop.get(dep_id)

    def last_stop(self, job: ReportJob) -> int | None:
        stops = [self.stop(d) for d in job.depends_on if d not in (job.array_id, job.job_id)]
        return max((s for s in stops if s is not None), default=None)


def _timing(job: ReportJob, dependency_stop: int | None, now: int) -> JobTiming:
    ready = _latest(job.created_at, dependency_stop)
    started, stopped = job.started_at, job.stopped_at
    running_now = started is not None and stopped is None and not job.finished
    wait = max(0, started - ready) if started is not None and ready is not None else None
    run: int | None = None
    if started is not None and stopped is not None:
        run = max(0, stopped - started)
    elif running_now and started is not None:
        run = max(0, now - started)
    if stopped is not None:
        end: int | None = stopped
    elif not job.finished and _first_timestamp(job) is not None:
        end = now
    else:
        end = _latest(job.created_at, started)
    return JobTiming(job, ready, wait, run, end, running_now)


def _latest(*values: int | None) -> int | None:
    return max((v for v in values if v is not None), default=None)
