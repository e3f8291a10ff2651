"""Rerunning what failed, in place: `JobSubmitter.resubmit_failed`.

A rerun puts a new job at the index of each FAILED job (and each EXPIRED one without an output),
so its output lands where the batch's layout expects it; the new job's attempt (tag
`pcr:attempt`, reserved in the manifest first) is higher than any before, which makes it the
index's current job. What a job's status says decides, never whether an output exists: a
failed job's stale output.json is removed before its rerun; a SUCCEEDED job is never rerun.

- Plain jobs rerun as plain jobs, with the first attempt's environment (its config.json is
  still there), one SubmitJob each, concurrently.
- Array children rerun as one new array per 10,000 of them (per set of dependencies), whose
  packed inputs carry an index table (child i -> job index): worker contract 2. A lone child
  reruns as a plain job (its input written as its config.json).
- A job that failed because a dependency failed reruns after, and depending on, that
  dependency's rerun; dependencies on jobs that finished well are dropped (AWS may have
  forgotten them), on unfinished ones kept. A job whose failed dependency is not rerun (its
  kind was not asked for) is not rerun either: it would fail at once.
- A closed batch reopens: its job definition is registered again (a new revision, the same
  spec); the next wait or close deregisters it.
- One process reruns a batch at a time: a rerun first takes the batch's rerun lease
  (`batch/lease.py`; `RerunLeaseHeldError` while another process holds it) and opens this
  process's session, then reads what other processes did (their reruns included), and only
  then decides what failed. The lease is held until this process's session ends.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from pcr_sdk._private.batch.ledger import Ledger
from pcr_sdk._private.batch.manifest import ArrayRecord, Manifest
from pcr_sdk._private.batch.results import BatchResults
from pcr_sdk._private.batch.submitting import send_each
from pcr_sdk._private.errors import JobNotFoundError, PcrInputError
from pcr_sdk._private.model.results import FailureKind, JobState, SubmittedJob, expired_state
from pcr_sdk._private.services.poller import Poller
from pcr_sdk._private.services.registry import BatchRegistry
from pcr_sdk._private.services.store import InputStore
from pcr_sdk._private.services.submitter import Submitter
from pcr_sdk._private.wire.facts import MAX_ARRAY_SIZE, JobStatus
from pcr_sdk._private.wire.packing import payloads

logger = logging.getLogger(__name__)

FOLLOWERS: Final = frozenset({FailureKind.DEPENDENCY_FAILED})
"""Kinds that are never asked for: such jobs rerun with the dependencies they failed on."""


def failure_kinds(kinds: Iterable[FailureKind | str] | None) -> frozenset[FailureKind] | None:
    """`kinds` checked (`PcrInputError` before any call): None for every kind, else a non-empty
    set of `FailureKind`s (or their values, e.g. "timeout")."""
    if kinds is None:
        return None
    if isinstance(kinds, str) or not isinstance(kinds, Iterable):
        raise PcrInputError(f"kinds must be a set of FailureKind, got {kinds!r}")
    wanted: set[FailureKind] = set()
    for kind in kinds:
        try:
            wanted.add(FailureKind(kind))
        except ValueError:
            names = ", ".join(k.value for k in FailureKind if k not in FOLLOWERS)
            raise PcrInputError(f"unknown failure kind {kind!r}; the kinds: {names}") from None
    if not wanted:
        raise PcrInputError("kinds is empty: name at least one kind, or pass None for all")
    if wanted & FOLLOWERS:
        raise PcrInputError(
            "kinds may not name 'dependency-failed': such jobs rerun with the dependencies "
            "they failed on; name the kinds of those failures instead"
        )
    return frozenset(wanted)


@dataclass
class _Statuses:
    """Each index's current job and what its status means for a rerun."""

    failed: dict[int, FailureKind] = field(default_factory=dict)
    """FAILED jobs, and EXPIRED ones without an output, with their kind."""
    unfinished: set[int] = field(default_factory=set)
    """Jobs not known finished: a dependency on them is kept."""


@dataclass(frozen=True)
class _Plan:
    jobs: Mapping[int, SubmittedJob]
    """Index -> the current job to rerun."""
    levels: Sequence[Sequence[int]]
    """The indexes to rerun, in rounds: each only depends on indexes of earlier rounds."""
    deps: Mapping[int, frozenset[int]]
    """Index -> the indexes its dependencies wait for."""


class BatchRerun:
    """Reruns a batch's failed jobs at their indexes, through its ledger."""

    def __init__(
        self,
        ledger: Ledger,
        *,
        results: BatchResults,
        poller: Poller,
        store: InputStore,
        submitter: Submitter,
        registry: BatchRegistry,
        manifest: Manifest,
        io_workers: int,
        sleep: Callable[[float], None],
        settle: Callable[[JobState], None],
        take_over: Callable[[], bool] = lambda: False,
        give_back: Callable[[bool], None] = lambda opened: None,
    ) -> None:
        self._ledger = ledger
        self._results = results
        self._poller = poller
        self._store = store
        self._submitter = submitter
        self._registry = registry
        self._manifest = manifest
        self._io_workers = io_workers
        self._sleep = sleep
        self._settle = settle
        self._take_over = take_over
        self._give_back = give_back

    def plan(self, kinds: frozenset[FailureKind] | None) -> list[SubmittedJob]:
        """The current jobs `run(kinds)` would rerun now, in index order; nothing is sent."""
        return list(_plan(self._ledger, self._statuses(), kinds).jobs.values())

    def run(self, kinds: frozenset[FailureKind] | None) -> list[str]:
        """Rerun what failed (of `kinds`, None: every kind); the new jobs' ids, in index order
        (an array's as `<array id>:<i>`). Nothing failed: no request beyond the statuses. Else
        first `take_over` (the lease, this process's session, what other processes did: their
        reruns too), then decide again what failed."""
        if not _plan(self._ledger, self._statuses(), kinds).jobs:
            logger.info("batch %s: nothing to rerun", self._ledger.batch_id)
            return []
        opened = self._take_over()
        statuses = self._statuses()
        plan = _plan(self._ledger, statuses, kinds)
        if not plan.jobs:
            logger.info("batch %s: nothing left to rerun", self._ledger.batch_id)
            self._give_back(opened)
            return []
        for job in plan.jobs.values():  # final now: callbacks and failure reports, once
            state = self._ledger.state(job.job_id)
            if state is not None:
                self._settle(state)
        adopt_definition(self._submitter, self._manifest, self._registry.ensure_active())
        self._ledger.reopen()
        attempt = self._ledger.next_attempt()
        self._store.delete_outputs(sorted(plan.jobs))
        inputs = self._array_inputs([job for job in plan.jobs.values() if job.array_id])
        targets: dict[int, str] = {}  # index -> what a dependency on its rerun names
        ids: dict[int, str] = {}
        for level in plan.levels:
            deps = {i: self._dependencies(i, plan, statuses, targets) for i in level}
            self._submit(level, deps, plan, inputs, attempt, targets, ids)
        self._manifest.flush_soon()
        logger.info("batch %s: resubmitted %d job(s) as attempt %d", self._ledger.batch_id,
                    len(ids), attempt)  # fmt: skip
        return [ids[i] for i in sorted(ids)]

    # -- what failed --------------------------------------------------------------------------

    def _statuses(self) -> _Statuses:
        """Each current job's status (asking AWS about those not known finished); a job AWS
        no longer returns counts as EXPIRED only when a second look later agrees."""
        jobs = self._ledger.jobs
        gone = self._results.refresh(jobs)
        if gone:
            gone = self._confirm_gone(gone)
        self._ledger.learn(expired_state(job_id) for job_id in sorted(gone))
        statuses = _Statuses()
        expired: list[SubmittedJob] = []
        for job in jobs:
            state = self._ledger.state(job.job_id)
            if state is None or not state.status.is_finished:
                statuses.unfinished.add(job.index)
            elif state.status is JobStatus.EXPIRED:
                expired.append(job)
            elif state.status is JobStatus.FAILED:
                statuses.failed[job.index] = self._ledger.failure(job, state) or (
                    FailureKind.INFRASTRUCTURE
                )
        if expired:
            present = self._store.outputs_present([job.index for job in expired])
            statuses.failed.update(
                (job.index, FailureKind.EXPIRED) for job in expired if job.index not in present
            )
        return statuses

    def _confirm_gone(self, gone: set[str]) -> set[str]:
        """Of the jobs one look missed, those a second look, `expiry_seconds` later, misses."""
        self._sleep(self._poller.expiry_seconds)
        asked = sorted({job_id.rsplit(":", 1)[0] for job_id in gone})
        fresh = self._poller.describe(asked)
        self._ledger.learn(state for job_id, state in fresh.items() if job_id in gone)
        return {job_id for job_id in gone if job_id.rsplit(":", 1)[0] not in fresh}

    # -- submitting ---------------------------------------------------------------------------

    def _dependencies(
        self, index: int, plan: _Plan, statuses: _Statuses, targets: Mapping[int, str]
    ) -> tuple[str, ...]:
        """What the rerun at `index` depends on: the reruns of its failed dependencies and its
        unfinished ones (an array through its parent); finished ones are dropped."""
        found: list[str] = []
        for member in sorted(plan.deps[index]):
            if member in targets:
                found.append(targets[member])
            elif member in statuses.unfinished:
                current = self._ledger.current(member)
                if current is not None:
                    found.append(current.array_id or current.job_id)
        return tuple(dict.fromkeys(found))

    def _submit(
        self,
        level: Sequence[int],
        deps: Mapping[int, tuple[str, ...]],
        plan: _Plan,
        inputs: Mapping[int, bytes],
        attempt: int,
        targets: dict[int, str],
        ids: dict[int, str],
    ) -> None:
        """One round: plain jobs concurrently, then array children as arrays per dependencies."""
        groups: dict[tuple[str, ...], list[int]] = {}
        plain: list[int] = []
        for index in level:
            if plan.jobs[index].array_id is None:
                plain.append(index)
            else:
                groups.setdefault(deps[index], []).append(index)
        lone: list[int] = []
        for dependencies, members in groups.items():
            for start in range(0, len(members), MAX_ARRAY_SIZE):
                chunk = members[start : start + MAX_ARRAY_SIZE]
                if len(chunk) == 1:
                    lone += chunk
                    continue
                array_id = self._send_array(chunk, dependencies, inputs, attempt)
                for child, index in enumerate(chunk):
                    targets[index], ids[index] = array_id, f"{array_id}:{child}"
        each = plain + lone
        if each:
            sent = send_each(
                len(each),
                lambda k: self._send_plain(each[k], deps[each[k]], inputs.get(each[k]), attempt),
                io_workers=self._io_workers, manifest=self._manifest,
            )  # fmt: skip
            for index, job_id in zip(each, sent, strict=True):
                targets[index] = ids[index] = job_id

    def _send_plain(
        self, index: int, deps: tuple[str, ...], payload: bytes | None, attempt: int
    ) -> str:
        with self._ledger.sending():
            if payload is not None:  # an array child rerun alone: its input as config.json
                self._store.put_input_bytes(index, payload)
            job_id = self._submitter.submit(
                index, depends_on=deps, timeout_seconds=self._timeout, attempt=attempt
            )
            self._ledger.record(SubmittedJob(job_id, index, deps, None, attempt))
        return job_id

    def _send_array(
        self,
        indexes: Sequence[int],
        deps: tuple[str, ...],
        inputs: Mapping[int, bytes],
        attempt: int,
    ) -> str:
        key = self._store.layout.indexed_inputs_key(indexes[0], attempt)
        with self._ledger.sending():
            self._store.put_indexed_inputs(key, [(i, inputs[i]) for i in indexes])
            request = self._submitter.indexed_array_request(
                key, len(indexes), attempt=attempt, depends_on=deps,
                timeout_seconds=self._timeout,
            )  # fmt: skip
            array_id = self._submitter.send(request)
            self._ledger.record_array(
                ArrayRecord(array_id, indexes[0], len(indexes), deps, attempt, tuple(indexes))
            )
        logger.info("batch %s: reran %d array children as %s", self._ledger.batch_id,
                    len(indexes), array_id)  # fmt: skip
        return array_id

    def _array_inputs(self, children: Sequence[SubmittedJob]) -> dict[int, bytes]:
        """The inputs of array children to rerun: one GET of each array's packed inputs."""
        found: dict[int, bytes] = {}
        by_array: dict[str, list[SubmittedJob]] = {}
        for child in children:
            by_array.setdefault(child.array_id or "", []).append(child)
        for array_id, members in sorted(by_array.items()):
            record = self._ledger.array(array_id)
            if record is None:
                raise JobNotFoundError(array_id, batch_id=self._ledger.batch_id)
            entries = payloads(self._store.get_bytes(record.inputs_key(self._store.layout)))
            for child in members:
                found[child.index] = entries[int(child.job_id.rsplit(":", 1)[1])]
        return found

    @property
    def _timeout(self) -> int:
        return self._registry.spec.timeout_seconds


def adopt_definition(submitter: Submitter, manifest: Manifest, arn: str) -> None:
    """New jobs name the definition revision `arn`, and so do new manifest chunks."""
    submitter.job_definition = arn
    manifest.batch = dataclasses.replace(manifest.batch, job_definition=arn)


def _plan(ledger: Ledger, statuses: _Statuses, kinds: frozenset[FailureKind] | None) -> _Plan:
    """Which indexes to rerun, and in which rounds (dependencies first)."""
    jobs = {job.index: job for job in ledger.jobs}
    deps = {index: _members(ledger, jobs[index]) for index in statuses.failed}
    chosen = {
        index
        for index, kind in statuses.failed.items()
        if kind in FOLLOWERS or kinds is None or kind in kinds
    }
    changed = True
    while changed:  # drop jobs that depend on a failure that is not rerun
        blocked = {i for i in chosen if any(m in statuses.failed and m not in chosen
                                            for m in deps[i])}  # fmt: skip
        chosen -= blocked
        changed = bool(blocked)
    level: dict[int, int] = {}
    for index in sorted(chosen):  # a dependency always has a lower index than its dependent
        level[index] = max((level[m] + 1 for m in deps[index] if m in chosen), default=0)
    rounds: list[list[int]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for index in sorted(chosen):
        rounds[level[index]].append(index)
    return _Plan({i: jobs[i] for i in sorted(chosen)}, rounds, {i: deps[i] for i in chosen})


def _members(ledger: Ledger, job: SubmittedJob) -> frozenset[int]:
    """The indexes the dependencies of `job` wait for."""
    found: set[int] = set()
    for dep in job.depends_on:
        try:
            found.update(ledger.members(dep))
        except JobNotFoundError:
            logger.warning("job %s depends on %s, which batch %s does not know; dropped",
                           job.job_id, dep, ledger.batch_id)  # fmt: skip
    return frozenset(found)
