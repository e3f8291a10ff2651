"""Whole batch lifecycles while S3 and Batch calls are throttled, fail, or lose their answers.

A hypothesis state machine drives `JobSubmitter` on a `MotoWorld`: start a batch, submit jobs
(one by one with callbacks, with dependencies, as arrays, concurrently), wait, take results as
they finish (`as_completed`, maybe stopping early), read outputs, rerun what failed
(`resubmit_failed`, of every kind or one, after the failing inputs were fixed or not: a closed
batch reopens), cancel, close, and "crash" (drop the submitter without closing it, then `attach`
from the batch id as a new process would). Between any two steps it injects faults below
botocore's retry layer, so botocore's own retries absorb most of them and some exhaust the
retries. An SDK error (`AwsError` and its subclasses, `WaitTimeoutError` from a wait with a
timeout) is an allowed outcome of a step; the model records what may then have reached AWS
Batch.

Edges of a process's life are steps too: a Ctrl-C (SIGINT) landing while `submit_jobs(array=False)`
is under way; `close()` racing submissions from other threads; AWS Batch forgetting finished jobs
(hidden from DescribeJobs, as after a day) that the manifest still names; the caller's own calls
on the client it shares with pcr-sdk (a 500 first: botocore must retry them as usual); and an
eventually consistent ListJobs (each new job missing from its first answer).

Checked after every step: AWS Batch holds one CURRENT job per index of the batch (its highest
`pcr:attempt`; older attempts are reruns' predecessors), the live submitter's current job at
each index is AWS's (unless AWS's came from a call that raised), it knows every job a call
returned, at the index AWS has, and nothing AWS lacks, and no callback ran twice (after a wait
that returned, or an `as_completed` loop that ran to its end, each callback of that submitter
ran exactly once).
Checked when a batch ends (with faults cleared): a submitter attached afresh knows each index's
current job exactly once, every current job's output is read back (the worker's result for a
job that succeeded, None for one that failed), the states of current jobs match what the inputs
asked for, and no job definition is left ACTIVE (but one the SDK warned about: a start whose
lost RegisterJobDefinition answer could neither be looked up nor undone; `pcr cleanup` removes
it).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import signal
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final, Literal

import boto3
import pytest
from botocore.exceptions import BotoCoreError, ClientError
from hypothesis import HealthCheck, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from pcr_sdk import (
    AwsError,
    BatchClosedError,
    FailureKind,
    JobNotFoundError,
    JobResult,
    JobStatus,
    JobSubmitter,
    PcrError,
    RerunLeaseHeldError,
    SilentProgress,
    WaitTimeoutError,
)
from pcr_sdk._private.edge.hooks import AmbiguousCall
from pcr_sdk.advanced import Seams
from pcr_sdk.testing import Fault, MotoWorld
from tests.fakes import FakeClock
from tests.faults._counts import FaultCounts
from tests.faults._support import (
    AwsFacts,
    AwsJob,
    batch_jobs,
    bury,
    current,
    expected_output,
    parent_of,
    reconcile,
)
from tests.sharing_support import stored_object

if TYPE_CHECKING:
    from mypy_boto3_batch import BatchClient
    from mypy_boto3_batch.type_defs import KeyValuesPairTypeDef

Service = Literal["batch", "s3"]

OPERATIONS: Final[tuple[tuple[Service, str], ...]] = (
    ("s3", "PutObject"),
    ("s3", "GetObject"),
    ("s3", "ListObjectsV2"),
    ("batch", "SubmitJob"),
    ("batch", "DescribeJobs"),
    ("batch", "ListJobs"),
    ("batch", "RegisterJobDefinition"),
    ("batch", "DeregisterJobDefinition"),
    ("batch", "DescribeJobDefinitions"),
    ("batch", "TerminateJob"),
)
FAULTS: Final = [(service, operation, kind) for service, operation in OPERATIONS for kind in Fault]
# pcr-sdk's clients make 8 attempts in all: 8 faults in a row spend every retry
TIMES: Final = st.sampled_from([1, 1, 2, 3, 8])
FAILS: Final = st.sampled_from([False, False, False, True])
POLLING_INTERVAL: Final = 30.0
FINISHED: Final = frozenset({"SUCCEEDED", "FAILED"})

PROFILE: Final = os.environ.get("HYPOTHESIS_PROFILE", "ci")
PROFILE_SETTINGS: Final = settings()  # the profile tests/conftest.py loaded
FAULT_SETTINGS: Final = settings(
    PROFILE_SETTINGS,
    # ci (the default): 50 examples; dev: 10; thorough: 666
    max_examples=max(5, PROFILE_SETTINGS.max_examples // 3),
    stateful_step_count=30,
    deadline=None,
    # CI replays the same examples every run; other profiles explore
    derandomize=PROFILE == "ci",
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@dataclass
class BatchModel:
    """What the test knows about the current batch, whatever the SDK says."""

    batch_id: str
    io_workers: int
    planned: int
    """Submit calls to make before the batch may end."""
    flush_every: int
    sub: JobSubmitter | None
    """The live submitter; None after a crash until an attach succeeds."""
    fail: dict[int, bool] = field(default_factory=dict)
    """Every input given to this batch: n -> whether the worker is asked to fail."""
    n_of: dict[str, int] = field(default_factory=dict)
    """job id -> n, for every job a submit call returned."""
    index_of: dict[str, int] = field(default_factory=dict)
    deps: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """job id (or array parent id) -> the ids it depends on."""
    arrays: dict[str, list[str]] = field(default_factory=dict)
    """array parent id -> its children's ids."""
    uncertain: set[str] = field(default_factory=set)
    """AWS jobs created during a submit call that raised."""
    others: set[str] = field(default_factory=set)
    """Jobs the second process's reruns returned (the live submitter learns them at its next
    look at what other processes did)."""
    unseen: set[str] = field(default_factory=set)
    """Jobs a call returned that the live submitter does not know: it attached while ListJobs
    lagged, and they had not reached the manifest (the window the docs name)."""
    submit_calls: int = 0
    callbacks: dict[int, JobSubmitter] = field(default_factory=dict)
    """n -> the submitter whose submit_job registered a callback for input n."""
    fixed: set[str] = field(default_factory=set)
    """Reruns whose input had been fixed (the worker no longer fails it) when submitted."""
    cancelled: bool = False
    closed: bool | None = False
    """Whether the definition is deregistered; None while a failed deregistration may or may
    not have been applied (the batch is closed to new jobs, the next close() tries again)."""

    def succeeds(self, job_id: str) -> bool | None:
        """Whether `job_id` must succeed when nothing is cancelled; None if the model cannot
        tell (it depends on a job a call that raised created)."""
        if job_id in self.arrays:
            outcomes = [self.succeeds(child) for child in self.arrays[job_id]]
        elif job_id in self.n_of:
            own = not self.fail[self.n_of[job_id]] or job_id in self.fixed
            outcomes = [own, *(self.succeeds(d) for d in self.deps[job_id])]
        else:
            return None
        if False in outcomes:
            return False
        return None if None in outcomes else True


@functools.cache
def _observers(region: str) -> boto3.Session:
    """The session of the test's own clients, shared by every example: a new session reads
    the services' models again (a quarter of a second a client)."""
    return boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region
    )


class _Warnings(logging.Handler):
    """Keeps the SDK's warnings that a job definition may be left ACTIVE."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "may be left ACTIVE" in message:
            self.messages.append(message)

    def left_active(self, batch_id: str) -> bool:
        return any(message.startswith(f"job definition {batch_id} ") for message in self.messages)


class FaultMachine(RuleBasedStateMachine):
    """One `MotoWorld` per example; batches one after another inside it."""

    def __init__(self, counts: FaultCounts) -> None:
        super().__init__()
        self.counts = counts
        self._stack = ExitStack()
        self.world = self._stack.enter_context(MotoWorld(polls_to_finish=2))
        self.world.script.worker(self._work)
        self.fixed: set[int] = set()
        """Inputs asked to fail that the worker no longer fails (a transient failure ended)."""
        # the harness's clients see the faults; these (another session) do not, and ListJobs
        # shows states without moving the scripted jobs
        observers = _observers(self.world.region)
        self.observer: BatchClient = observers.client("batch")
        self._stack.callback(self.observer.close)
        s3 = observers.client("s3")
        self._stack.callback(s3.close)
        self.facts = AwsFacts(self.observer, s3, self.world.region)
        self.s3 = s3
        self.clock = FakeClock()
        self.fired: Counter[int] = Counter()
        """How often the callback of input n ran."""
        self.batch: BatchModel | None = None
        self.started = 0
        self.next_n = 0
        self.broken = False
        self.hidden: set[str] = set()
        """Finished jobs AWS Batch "forgot": DescribeJobs through the world's clients omits them."""
        self.lagging = False
        self.caller_definition: str | None = None
        self.caller_calls = 0
        self.world.clients.batch.meta.events.register(
            "after-call.batch.DescribeJobs", self._forget_hidden
        )
        self.second: JobSubmitter | None = None
        """A second process attached to the batch (see its block of rules)."""
        self.beaten = self.clock.now
        self.orphans: set[str] = set()
        """Definitions a failed start may have left ACTIVE, as the SDK warned (see teardown)."""
        self.warnings = _Warnings()
        sdk_logger = logging.getLogger("pcr_sdk")
        sdk_logger.addHandler(self.warnings)
        self._stack.callback(sdk_logger.removeHandler, self.warnings)

    def _work(self, data: Any) -> dict[str, int]:
        """The simulated container: fails when asked to (until the input is fixed)."""
        if data["fail"] and data["n"] not in self.fixed:
            raise ValueError(f"job n={data['n']} was asked to fail")
        return expected_output(int(data["n"]))

    def _forget_hidden(self, parsed: dict[str, object], **_: object) -> None:
        jobs = parsed.get("jobs")
        if isinstance(jobs, list) and self.hidden:
            jobs[:] = [j for j in jobs if j.get("jobId") not in self.hidden]

    # --- rules ---------------------------------------------------------------------------

    @precondition(lambda self: self.batch is None)
    @rule(
        io_workers=st.sampled_from([1, 4]),
        planned=st.integers(1, 5),
        flush_every=st.sampled_from([1, 3, 100]),
    )
    def start_batch(self, io_workers: int, planned: int, flush_every: int) -> None:
        with self._step():
            self.started += 1
            fixed = uuid.UUID(int=self.started)
            try:
                sub = JobSubmitter(
                    "fz",
                    self.world.queue,
                    "python:3.11",
                    self.world.bucket,
                    clients=self.world.clients,
                    io_workers=io_workers,
                    polling_interval_seconds=POLLING_INTERVAL,
                    progress=SilentProgress(),
                    seams=Seams(
                        clock=self.clock,
                        sleep=self.clock.sleep,
                        uuid_factory=lambda: fixed,
                        heartbeat=False,  # `_heartbeats` renews the sessions, on this clock
                    ),
                )
            except AwsError as err:
                self._allowed(err, "start_batch")
                # the teardown checks that no definition of it is ACTIVE, unless the SDK said
                # it may be: a lost RegisterJobDefinition answer, then no DescribeJobDefinitions
                # or DeregisterJobDefinition getting through (`pcr cleanup` removes it)
                if self.warnings.left_active(f"fz_{fixed}"):
                    self.orphans.add(f"fz_{fixed}")
                return
            assert sub.get_batch_id() == f"fz_{fixed}"
            sub._manifest.flush_every = flush_every  # small: many manifest chunks to merge
            self.batch = BatchModel(sub.get_batch_id(), io_workers, planned, flush_every, sub)

    @precondition(lambda self: self._open())
    @rule(fail=FAILS, data=st.data())
    def submit_job(self, fail: bool, data: st.DataObject) -> None:
        with self._step():
            model, sub = self._model(), self._sub()
            deps = self._draw_deps(data)
            n = self._new_input(fail)
            closed = self._expect_closed()
            model.submit_calls += 1
            before = len(self.world.jobs())
            try:
                job_id = sub.submit_job({"n": n, "fail": fail}, deps, self._callback(n))
            except PcrError as err:
                new = self._new_jobs(before)
                self._allowed(err, "submit_job", closed=closed)
                assert len(new) <= 1, f"one submit_job created {len(new)} jobs: {new}"
                assert all(":" not in job_id for job_id in new)
                model.uncertain |= set(new)
                return
            assert not closed, "submit_job on a closed batch returned"
            assert list(self._new_jobs(before)) == [job_id]
            self._learn(job_id, n, deps)
            model.callbacks[n] = sub

    @precondition(lambda self: self._open())
    @rule(fails=st.lists(FAILS, min_size=1, max_size=4), array=st.booleans(), data=st.data())
    def submit_jobs(self, fails: list[bool], array: bool, data: st.DataObject) -> None:
        with self._step():
            model, sub = self._model(), self._sub()
            deps = self._draw_deps(data)
            ns = [self._new_input(fail) for fail in fails]
            closed = self._expect_closed()
            model.submit_calls += 1
            as_array = array and len(ns) > 1
            before = len(self.world.jobs())
            inputs = [{"n": n, "fail": fail} for n, fail in zip(ns, fails, strict=True)]
            try:
                ids = sub.submit_jobs(inputs, array=array, depends_on_job_ids=deps)
            except PcrError as err:
                new = self._new_jobs(before)
                self._allowed(err, "submit_jobs", closed=closed)
                assert len(new) <= len(ns), f"{len(ns)} inputs created {len(new)} jobs"
                parents = {parent_of(job_id) for job_id in new if ":" in job_id}
                assert len(parents) <= (1 if as_array else 0), f"arrays created: {parents}"
                model.uncertain |= set(new)
                return
            assert not closed, "submit_jobs on a closed batch returned"
            assert len(ids) == len(ns)
            assert set(self._new_jobs(before)) == set(ids)
            if as_array:
                parent = parent_of(ids[0])
                assert ids == [f"{parent}:{i}" for i in range(len(ns))]
                model.arrays[parent] = ids
                model.deps[parent] = deps
            else:
                assert all(":" not in job_id for job_id in ids)
            for job_id, n in zip(ids, ns, strict=True):
                self._learn(job_id, n, deps)

    @precondition(lambda self: self._live() is not None and not self._open())
    @rule(array=st.booleans())
    def submit_to_closed_batch(self, array: bool) -> None:
        with self._step():
            sub = self._sub()
            before = len(self.world.jobs())
            inputs = [{"n": self._new_input(False), "fail": False} for _ in range(2)]
            with pytest.raises(BatchClosedError):
                self._submit_either(sub, inputs, array=array)
            assert not self._new_jobs(before), "a closed batch took a job"

    @precondition(lambda self: self._ready())
    @rule(how=st.sampled_from(["wait", "wait", "wait", "wait_with_timeout", "cancel", "close"]))
    def finish(self, how: str) -> None:
        """How the user ends a batch (again, after an error: each may be retried)."""
        with self._step():
            if how == "cancel":
                self._cancel()
            elif how == "close":
                self._close()
            else:
                self._wait(150.0 if how == "wait_with_timeout" else None)

    @precondition(lambda self: self._ready(1))
    @rule()
    def get_all_outputs(self) -> None:
        with self._step():
            sub = self._sub()
            try:
                outputs = sub.get_all_outputs()
            except AwsError as err:
                self._allowed(err, "get_all_outputs")
                return
            jobs = sub.jobs
            assert len(outputs) == len(jobs)
            states = self._statuses()
            for job, output in zip(jobs, outputs, strict=True):
                self._check_output(job.job_id, output, states[job.job_id])

    @precondition(lambda self: self._ready(1))
    @rule(
        wait_first=st.booleans(),
        fix=st.booleans(),
        kind=st.sampled_from([None, None, FailureKind.NON_ZERO_EXIT, FailureKind.EXPIRED]),
    )
    def resubmit_failed(self, wait_first: bool, fix: bool, kind: FailureKind | None) -> None:
        """Rerun what failed (of one kind, or all), maybe after a wait (the batch closed: it
        reopens), maybe after fixing the failing inputs (a transient failure ended)."""
        with self._step():
            model, sub = self._model(), self._sub()
            if wait_first:
                self._wait(None)
            if fix:  # the inputs of the jobs that failed now succeed; none of them runs again
                states = self._statuses()
                failed = [j for j in sub.jobs if states.get(j.job_id) == "FAILED"]
                self.fixed |= {model.n_of[j.job_id] for j in failed if j.job_id in model.n_of}
            before = len(self.world.jobs())
            try:
                ids = sub.resubmit_failed(kinds=None if kind is None else {kind})
            except PcrError as err:
                self._allowed(err, "resubmit_failed")
                model.uncertain |= set(self._new_jobs(before))
                self._reopened()
                return
            self._reopened()
            self._record_rerun(sub, ids, before)

    def _record_rerun(self, sub: JobSubmitter, ids: Sequence[str], before: int) -> None:
        """What a rerun that returned `ids` did, into the model (checked against AWS Batch)."""
        model = self._model()
        assert set(self._new_jobs(before)) == set(ids), "reran jobs it did not return"
        self.counts.reruns += len(ids)
        views = {view.job_id: view for view in self.world.jobs()}
        aws = self._aws()
        for job_id in ids:
            index = self._index(sub, job_id)
            assert index is not None
            assert aws[job_id].index == index, (job_id, aws[job_id], index)
            earlier = [j for j in aws.values() if j.index == index and j.job_id != job_id]
            assert earlier, f"rerun {job_id} of index {index} has no predecessor"
            assert aws[job_id].attempt > max(j.attempt for j in earlier)
            n = next((model.n_of[j.job_id] for j in earlier if j.job_id in model.n_of), None)
            if n is None:  # its first job came from a call that raised: no n known
                model.uncertain.add(job_id)
                continue
            parent = parent_of(job_id) if ":" in job_id else job_id
            deps = tuple(views[parent].depends_on)  # what AWS Batch has
            if parent != job_id:
                model.arrays.setdefault(parent, []).append(job_id)
                model.deps[parent] = deps
            model.n_of[job_id], model.index_of[job_id], model.deps[job_id] = n, index, deps
            if n in self.fixed:
                model.fixed.add(job_id)

    @precondition(lambda self: self._ready(1))
    @rule(stop_after=st.sampled_from([None, None, 0, 2]), timeout=st.sampled_from([None, 150.0]))
    def as_completed(self, stop_after: int | None, timeout: float | None) -> None:
        """Results as they finish, with their outputs; the loop may stop early (the batch goes
        on: a later wait or a new loop takes the rest)."""
        with self._step():
            sub = self._sub()
            closed = sub.closed
            seen: list[JobResult] = []
            error: PcrError | None = None
            try:
                for result in sub.as_completed(timeout=timeout):
                    seen.append(result)
                    if stop_after is not None and len(seen) > stop_after:
                        break
            except (AwsError, WaitTimeoutError) as err:
                error = err
                self._allowed(err, "as_completed")
            ids = [result.job_id for result in seen]
            assert len(ids) == len(set(ids)), f"a job came twice: {ids}"
            assert sub.closed == closed, "as_completed opened or closed the batch"
            states = self._statuses()
            for result in seen:
                if result.job_id in self.hidden:  # AWS forgot it: EXPIRED, S3 still answers
                    # (unless its state was known before: then that state)
                    expected = {JobStatus.EXPIRED, JobStatus(states[result.job_id])}
                    assert result.status in expected, result
                else:
                    assert result.status.value == states[result.job_id], (result, states)
                self._check_output(result.job_id, result.output, states[result.job_id])
            if error is None and stop_after is None:
                missing = {job.job_id for job in sub.jobs} - set(ids)
                assert not missing, f"a job never came: {missing}"
                self._all_callbacks_ran(sub)

    @precondition(lambda self: self._ready(1))
    @rule(attach_now=st.booleans())
    def crash(self, attach_now: bool) -> None:
        """The process dies: no close, no manifest flush; a new one attaches by batch id (more
        than 10 minutes later: the dead process's session and lease are stale by S3's clock)."""
        with self._step():
            model = self._model()
            if model.sub is not None:
                bury(self.world, model.sub)
            model.sub = None
            if attach_now:
                self._attach()

    @precondition(lambda self: self.batch is not None and self.batch.sub is None)
    @rule()
    def reattach(self) -> None:
        with self._step():
            self._attach()

    @precondition(lambda self: self._open())
    @rule(count=st.integers(5, 7), at=st.integers(1, 3))
    def interrupted_submission(self, count: int, at: int) -> None:
        """A Ctrl-C lands (SIGINT to the main thread) after the `at`-th SubmitJob returned."""
        with self._step():
            model, sub = self._model(), self._sub()
            ns = [self._new_input(False) for _ in range(count)]
            closed = self._expect_closed()
            model.submit_calls += 1
            before = len(self.world.jobs())
            main, sent, lock = threading.get_ident(), Counter[str](), threading.Lock()

            def interrupt(**_: object) -> None:
                with lock:  # pool threads return together: one signal, exactly
                    sent["n"] += 1
                    now = sent["n"] == at
                if now:
                    signal.pthread_kill(main, signal.SIGINT)

            events = self.world.clients.batch.meta.events
            events.register("after-call.batch.SubmitJob", interrupt, unique_id="fz-interrupt")
            try:
                ids = sub.submit_jobs([{"n": n, "fail": False} for n in ns], array=False)
            except KeyboardInterrupt:
                self.counts.interrupts += 1
                ids = None
            except PcrError as err:
                self._allowed(err, "interrupted_submission", closed=closed)
                ids = None
            finally:
                events.unregister("after-call.batch.SubmitJob", unique_id="fz-interrupt")
            assert sub._ledger.in_flight == 0, "a submission still under way after the call"
            new = self._new_jobs(before)
            known = {job.job_id for job in sub.jobs}
            assert set(new) <= known, f"went out, not recorded: {set(new) - known}"
            if ids is None:
                # how many went out depends on when the main thread takes the signal; the
                # regression test in tests/test_ledger.py checks that the rest is not started
                model.uncertain |= set(new)
                return
            for job_id, n in zip(ids, ns, strict=True):
                self._learn(job_id, n, ())

    @precondition(lambda self: self._open())
    @rule(threads=st.integers(2, 3))
    def close_racing_submits(self, threads: int) -> None:
        """close() while other threads submit: none is accepted after it, none is lost."""
        with self._step():
            model, sub = self._model(), self._sub()
            inputs = [[self._new_input(False) for _ in range(3)] for _ in range(threads)]
            before = len(self.world.jobs())
            closing = threading.Event()
            returned: list[tuple[str, int]] = []
            after_close: list[str] = []
            errors: list[PcrError] = []
            lock = threading.Lock()

            def submitting(ns: list[int]) -> None:
                for n in ns:
                    late = closing.is_set()
                    try:
                        job_id = sub.submit_job({"n": n, "fail": False})
                    except BatchClosedError:
                        return
                    except PcrError as err:
                        with lock:
                            errors.append(err)
                        continue
                    with lock:
                        returned.append((job_id, n))
                        if late:
                            after_close.append(job_id)

            workers = [threading.Thread(target=submitting, args=(ns,)) for ns in inputs]
            for worker in workers:
                worker.start()
            model.submit_calls += 1
            error: AwsError | None = None
            try:
                sub.close()
            except AwsError as err:
                error = err
                self._allowed(err, "close while submitting")
            closing.set()
            for worker in workers:
                worker.join(timeout=60)
            self.counts.close_races += 1
            for failure in errors:
                self._allowed(failure, "submit while closing")
            assert after_close == [], f"accepted after close() returned: {after_close}"
            assert sub.closed
            for job_id, n in returned:
                self._learn(job_id, n, ())
            new = self._new_jobs(before)
            assert set(new) <= {job.job_id for job in sub.jobs}, "went out, not recorded"
            model.uncertain |= set(new) - {job_id for job_id, _ in returned}
            self._closing_outcome(error)

    @precondition(lambda self: self._ready(1))
    @rule(data=st.data())
    def aws_forgets_old_jobs(self, data: st.DataObject) -> None:
        """AWS Batch stops returning finished jobs (after about a day); the manifest has them."""
        # drawn before looking at the state: thread timing may vary it between runs, and
        # hypothesis needs the same draws for the same choices
        picks = data.draw(st.lists(st.integers(0, 99), max_size=2), label="jobs to forget")
        with self._step():
            model, sub = self._model(), self._sub()
            try:
                sub._manifest.flush()
            except AwsError as err:
                self._allowed(err, "manifest flush")
                return
            states = self._statuses()
            old = sorted(
                job_id for job_id in model.n_of
                if ":" not in job_id and states.get(job_id) in FINISHED
                and job_id not in self.hidden
            )  # fmt: skip
            if old:
                self.hidden |= {old[i % len(old)] for i in picks}

    @precondition(lambda self: self.caller_calls < 2)
    @rule()
    def caller_uses_the_shared_client(self) -> None:
        """The caller's own SubmitJob on the client it shares with pcr-sdk meets a 500 first:
        botocore resends it as usual (pcr-sdk's no-blind-retry rule is for its own calls)."""
        with self._step():
            if self.caller_definition is None:
                self.caller_definition = self.world.register_job_definition("caller-own")
            self.world.faults.add(
                service="batch", operation="SubmitJob", kind=Fault.SERVER_ERROR, times=1
            )
            try:
                job = self.world.clients.batch.submit_job(
                    jobName="caller-own", jobQueue=self.world.queue,
                    jobDefinition=self.caller_definition,
                )  # fmt: skip
            except AmbiguousCall as err:
                raise AssertionError("pcr-sdk's hook acted on the caller's own call") from err
            except (ClientError, BotoCoreError):
                return  # earlier faults spent botocore's retries: the caller's usual outcome
            assert job["ResponseMetadata"]["RetryAttempts"] >= 1
            self.counts.caller_calls += 1
            self.caller_calls += 1

    @precondition(lambda self: not self.lagging)
    @rule()
    def listing_lags(self) -> None:
        """ListJobs turns eventually consistent: each new job is missing from its first answer."""
        self.world.faults.delay_listing(answers=1)
        self.lagging = True
        self.counts.listing_lags += 1

    @rule(fault=st.sampled_from(FAULTS), times=TIMES)
    def inject(self, fault: tuple[Service, str, Fault], times: int) -> None:
        service, operation, kind = fault
        self.world.faults.add(service=service, operation=operation, kind=kind, times=times)

    @precondition(lambda self: self.batch is not None and not self._open())
    @rule()
    def end_batch(self) -> None:
        with self._step():
            self._verify()
            self.batch = None
            self.beaten = self.clock.now

    @invariant()
    def aws_and_the_live_submitter_agree(self) -> None:
        model = self.batch
        if model is None:
            return
        with self._step():
            aws = self._aws()
            assert None not in {job.index for job in aws.values()}
            now = current(aws)
            indexes = Counter(now.values())
            twice = {index: n for index, n in indexes.items() if n > 1}
            assert not twice, f"AWS Batch holds two current jobs for index(es) {twice}"
            if model.sub is None:
                return
            sub = model.sub
            live = {job.job_id: job for job in sub.jobs}
            assert set(live) <= set(aws), f"known, not in AWS: {set(live) - set(aws)}"
            at = {job.index: job for job in live.values()}
            for job_id, index in now.items():
                mine = at.get(index) if index is not None else None
                if mine is not None and mine.job_id == job_id:
                    continue
                assert job_id in model.uncertain | model.others, (
                    f"AWS's current job {job_id} is not known"
                )
                if mine is not None:  # then the live one is an older attempt of that index
                    assert aws[mine.job_id].attempt < aws[job_id].attempt, (mine, aws[job_id])
            for job_id, job in live.items():
                assert job.index == aws[job_id].index, (job, aws[job_id])
                assert job.attempt == aws[job_id].attempt, (job, aws[job_id])
            for job_id, index in model.index_of.items():
                if job_id not in model.unseen and (job_id not in model.others or
                                                   self._knows(sub, job_id)):  # fmt: skip
                    assert self._index(sub, job_id) == index, (job_id, index)

    @invariant()
    def no_callback_ran_twice(self) -> None:
        twice = {n: count for n, count in self.fired.items() if count > 1}
        assert not twice, f"callbacks ran more than once: {twice}"

    def teardown(self) -> None:
        try:
            if not self.broken:
                if self.batch is not None:
                    self._verify()
                self.world.faults.clear()
                if self.caller_definition is not None:
                    self.observer.deregister_job_definition(jobDefinition=self.caller_definition)
                active = self.observer.describe_job_definitions(status="ACTIVE")
                names = {d["jobDefinitionName"] for d in active["jobDefinitions"]}
                assert names <= self.orphans, f"job definitions left ACTIVE: {names}"
        finally:
            self.counts.faults_injected += self.world.faults.injected
            self._stack.close()

    # --- a second process attached to the same batch -------------------------------------
    # It attaches, waits, reruns and closes at random moments, in the same world as the live
    # submitter (and on the same clock, like two processes on one machine). Checked: no job is
    # lost and none is run twice by a rerun (`_record_rerun`, `no_rerun_runs_a_job_twice`,
    # and `_verify`'s fresh attach); the definition is ACTIVE while anyone submits
    # (`the_definition_is_active_while_anyone_submits`); no orphaned definition remains at the
    # end (`teardown`). `_step` renews the live processes' sessions once a minute of the
    # clock, as their heartbeat threads would.

    @precondition(lambda self: self.second is None and self._live() is not None)
    @rule()
    def second_attaches(self) -> None:
        with self._step():
            model = self._model()
            try:
                self.second = self._attach_quietly(model.batch_id, model.io_workers)
            except AwsError as err:
                self._allowed(err, "second attaches")
                return
            self.counts.reattaches += 1

    @precondition(lambda self: self.second is not None)
    @rule()
    def second_waits(self) -> None:
        """Its wait ends when the batch is over (nobody submits, every job finished), or at
        its deadline (the live submitter keeps the batch open meanwhile)."""
        with self._step():
            second = self._second()
            try:
                second.wait_until_jobs_finished(timeout=150.0)
            except (AwsError, WaitTimeoutError) as err:
                self._allowed(err, "second waits")
                self._others_ended(second, err)
                return
            assert not self._another_submits(second), "a wait ended while a process submits"
            if not self.lagging:  # a job AWS Batch does not list yet may be running
                states = self._statuses()
                unfinished = {j: s for j, s in states.items() if s not in FINISHED}
                assert not unfinished, f"the batch was not over: {unfinished}"
            self._others_ended(second)

    @precondition(lambda self: self.second is not None and self._ready(1))
    @rule(kind=st.sampled_from([None, FailureKind.NON_ZERO_EXIT]))
    def second_reruns(self, kind: FailureKind | None) -> None:
        """One process reruns at a time: while the live submitter holds the lease this one is
        refused (`RerunLeaseHeldError`), and the other way round."""
        with self._step():
            model, second = self._model(), self._second()
            before = len(self.world.jobs())
            try:
                ids = second.resubmit_failed(kinds=None if kind is None else {kind})
            except PcrError as err:
                self._allowed(err, "second reruns")
                model.uncertain |= set(self._new_jobs(before))
                return
            self._record_rerun(second, ids, before)
            model.others |= set(ids)

    @precondition(lambda self: self.second is not None)
    @rule()
    def second_closes(self) -> None:
        with self._step():
            second = self._second()
            try:
                second.close()
            except AwsError as err:
                self._allowed(err, "second closes")
                self._others_ended(second, err)
                return
            self.second = None
            self._others_ended(second)

    @invariant()
    def the_definition_is_active_while_anyone_submits(self) -> None:
        model = self.batch
        if model is None:
            return
        with self._step():
            submitting = [sub for sub in (model.sub, self.second) if self._submits(sub)]
            if submitting:
                assert self._active(model.batch_id), "a process submits, the definition is gone"

    @invariant()
    def no_rerun_runs_a_job_twice(self) -> None:
        if self.batch is None:
            return
        with self._step():
            reruns = Counter((j.index, j.attempt) for j in self._aws().values() if j.attempt > 1)
            twice = {slot: n for slot, n in reruns.items() if n > 1}
            assert not twice, f"(index, attempt) rerun more than once: {twice}"

    def _second(self) -> JobSubmitter:
        assert self.second is not None
        return self.second

    @staticmethod
    def _submits(sub: JobSubmitter | None) -> bool:
        """Whether `sub` may submit: its session is open and its batch takes jobs."""
        return sub is not None and sub._presence.session.is_open and not sub._ledger.closing

    def _another_submits(self, sub: JobSubmitter) -> bool:
        """Whether a process other than `sub` may submit to the batch."""
        return any(self._submits(o) for o in (self._live(), self.second) if o is not sub)

    def _lease_holders(self) -> int:
        return sum(o is not None and o._presence.lease.held for o in (self._live(), self.second))

    def _others_ended(self, ended: JobSubmitter, err: PcrError | None = None) -> None:
        """After the second process's wait or close: unless the live submitter submits, the
        definition is deregistered (or, after an error, may be: the next close tries again).

        A live submitter that has not closed its batch (attached, not submitting yet) still
        takes jobs: its next submission joins the batch and registers the definition again.
        """
        model = self._model()
        live = self._live()
        if self._another_submits(ended):
            assert self._active(model.batch_id), "deregistered under a live submitter"
        elif not self._active(model.batch_id):
            model.closed = True if live is None or live.closed else None
        else:
            assert err is not None, "the batch was over, but the definition is ACTIVE"
            model.closed = None

    def _heartbeats(self) -> None:
        """The live processes renew their sessions once a minute of the clock, as their
        heartbeat threads do: their records are written again (outside the injected faults).

        A heartbeat rewrites the same body, so only its LastModified tells readers it beat.
        moto stamps it with the real clock, to the second, and the machine runs minutes of its
        clock within one real second: a beat that moto would stamp as the previous one is
        stamped a second later, so every beat is seen, whatever the real time (on AWS a beat
        comes a minute after the last)."""
        if self.second is None or self.clock.now - self.beaten < 60:
            return
        self.beaten = self.clock.now
        for sub in (self._live(), self.second):
            if sub is not None and sub._presence.session.is_open:
                key = sub.layout.session_key(sub._presence.session.id)
                written = stored_object(self.world, key).last_modified
                body = self.s3.get_object(Bucket=self.world.bucket, Key=key)["Body"].read()
                self.s3.put_object(Bucket=self.world.bucket, Key=key, Body=body)
                rewritten = stored_object(self.world, key)
                later = written.replace(microsecond=0) + timedelta(seconds=1)
                rewritten.last_modified = max(rewritten.last_modified, later)

    # --- how a batch ends ---------------------------------------------------------------

    def _wait(self, timeout: float | None) -> None:
        sub = self._sub()
        if timeout is None and self._another_submits(sub):
            timeout = 150.0  # the wait follows the batch until the other process ends
        error: PcrError | None = None
        try:
            sub.wait_until_jobs_finished(timeout=timeout)
        except (AwsError, WaitTimeoutError) as err:
            error = err
            self._allowed(err, "wait")
        self._closing_outcome(error)
        assert sub.closed, "wait_until_jobs_finished left the definition registered"
        if error is None:
            states = self._statuses()
            unfinished = [j.job_id for j in sub.jobs if states[j.job_id] not in FINISHED]
            assert not unfinished, f"wait returned while AWS says unfinished: {unfinished}"
            self._all_callbacks_ran(sub)

    def _cancel(self) -> None:
        model, sub = self._model(), self._sub()
        model.cancelled = True
        try:
            results = sub.cancel("pcr fault suite", timeout=600)
        except AwsError as err:
            self._allowed(err, "cancel")
            self._closing_outcome(err)
            return
        self._closing_outcome(None)
        assert sub.closed
        states = self._statuses()
        for job_id, result in results.items():
            expected = "EXPIRED" if job_id in self.hidden else states[job_id]
            assert result.status.value == expected, (job_id, result, states[job_id])

    def _close(self) -> None:
        sub = self._sub()
        error: AwsError | None = None
        try:
            sub.close()
        except AwsError as err:
            error = err
            self._allowed(err, "close")
        self._closing_outcome(error)
        assert sub.closed

    # --- the end of a batch --------------------------------------------------------------

    def _verify(self) -> None:
        """With faults cleared: close, attach afresh, and check knowledge, outputs, definition."""
        model = self._model()
        self.world.faults.clear()
        self.lagging = False
        if self.second is not None:  # the second process ends first: the batch outlives it
            self.second.close()
            self.second = None
        if model.sub is not None and not model.sub._registry.deregistered:
            # the user's last step (again, after a failed one); nothing fails any more
            model.sub.close()
            self._closing_outcome(None)
            assert model.closed is True
        if model.closed:
            assert not self._active(model.batch_id), "ACTIVE after close or wait"

        aws = self._aws()
        now = current(aws)
        fresh = self._attach_quietly(model.batch_id, model.io_workers)
        found = reconcile(fresh.jobs, now)
        self.counts.batches_run += 1
        self.counts.jobs_submitted += len(aws)
        self.counts.jobs_lost += len(found.lost)
        self.counts.duplicates += found.duplicates
        assert found.exact, found
        assert {i: self._index(fresh, i) for i in model.index_of} == model.index_of
        assert [job.attempt for job in fresh.jobs] == [
            aws[job.job_id].attempt for job in fresh.jobs
        ]

        fresh.wait_until_jobs_finished()
        expired = {r.job_id for r in fresh.get_results() if r.status is JobStatus.EXPIRED}
        assert expired == self.hidden & set(now), "EXPIRED is exactly what AWS forgot"
        self.counts.expired += len(expired)
        outputs = fresh.get_all_outputs()
        states = self._statuses()
        for job, output in zip(fresh.jobs, outputs, strict=True):
            self._check_output(job.job_id, output, states[job.job_id])
        numbers = Counter(json.loads(o)["n"] for o in outputs if o is not None)
        assert all(n == 1 for n in numbers.values()), f"inputs run twice: {numbers}"
        for job_id in model.n_of:
            if job_id not in now:
                continue  # an earlier attempt: rerun, so it failed (or a lost rerun's)
            state, succeeds = states[job_id], model.succeeds(job_id)
            assert state in FINISHED, (job_id, state)
            if succeeds is False:
                assert state == "FAILED", f"{job_id} should have failed: {state}"
            elif succeeds and not model.cancelled:
                assert state == "SUCCEEDED", f"{job_id} should have succeeded: {state}"
        assert not self._active(model.batch_id), "ACTIVE after the batch ended"

    # --- helpers -------------------------------------------------------------------------

    @contextmanager
    def _step(self) -> Iterator[None]:
        """Marks the machine broken while a step runs: the teardown then only cleans up."""
        self.broken = True
        self._heartbeats()
        yield
        self.broken = False

    def _model(self) -> BatchModel:
        assert self.batch is not None
        return self.batch

    def _ready(self, calls: int | None = None) -> bool:
        """A live submitter, and `calls` (default: the planned number of) submit calls made."""
        sub = self._live()
        if sub is None or self.batch is None:
            return False
        return self.batch.submit_calls >= (self.batch.planned if calls is None else calls)

    def _open(self) -> bool:
        """A live submitter whose batch still takes jobs."""
        sub = self._live()
        return sub is not None and not sub.closed

    def _live(self) -> JobSubmitter | None:
        return None if self.batch is None else self.batch.sub

    def _sub(self) -> JobSubmitter:
        sub = self._live()
        assert sub is not None
        return sub

    def _allowed(self, err: PcrError, step: str, *, closed: bool = False) -> None:
        """Accept `err` as the outcome of `step` if it is one the SDK may raise there."""
        note(f"{step}: {type(err).__name__}: {err}")
        if closed:
            assert isinstance(err, BatchClosedError), f"closed batch, but {err!r}"
        elif isinstance(err, RerunLeaseHeldError):
            assert self._lease_holders() >= 1, f"no other process holds the lease: {err}"
        elif not isinstance(err, (AwsError, WaitTimeoutError)):
            raise err
        self.counts.sdk_errors[type(err).__name__] += 1

    def _closing_outcome(self, err: PcrError | None) -> None:
        """After wait, cancel or close: is the definition deregistered now?"""
        model, sub = self._model(), self._sub()
        if sub._registry.deregistered:
            model.closed = True
        elif sub.closed and model.closed is not True:
            assert err is not None or self._another_submits(sub), (
                "closing returned, but the definition is not deregistered"
            )
            model.closed = None

    def _expect_closed(self) -> bool:
        """Whether the next submit must raise BatchClosedError."""
        model = self._model()
        return model.closed if model.closed is not None else self._sub().closed

    @staticmethod
    def _submit_either(sub: JobSubmitter, inputs: Sequence[object], *, array: bool) -> None:
        if array:
            sub.submit_jobs(inputs)
        else:
            sub.submit_job(inputs[0])

    def _callback(self, n: int) -> Callable[[], None]:
        return lambda: self.fired.update([n])

    def _all_callbacks_ran(self, sub: JobSubmitter) -> None:
        """After a complete wait (or loop) on `sub`: each of its callbacks ran exactly once."""
        mine = [n for n, owner in self._model().callbacks.items() if owner is sub]
        assert all(self.fired[n] == 1 for n in mine), {n: self.fired[n] for n in mine}

    def _new_input(self, fail: bool) -> int:
        self.next_n += 1
        self._model().fail[self.next_n] = fail
        return self.next_n

    def _draw_deps(self, data: st.DataObject) -> tuple[str, ...]:
        # drawn whatever the state (thread timing may vary it): indexes into the candidates
        wanted = data.draw(st.booleans(), label="with dependencies")
        picks = data.draw(st.lists(st.integers(0, 999), min_size=1, max_size=2), label="deps")
        model = self._model()
        plain = sorted(j for j in model.n_of if ":" not in j and j not in model.unseen)
        candidates = plain + sorted(
            a for a in model.arrays if not set(model.arrays[a]) & model.unseen
        )
        if not candidates or not wanted:
            return ()
        return tuple(dict.fromkeys(candidates[i % len(candidates)] for i in picks))

    def _new_jobs(self, before: int) -> list[str]:
        """The batch's jobs AWS Batch accepted since `before` jobs (array parents left out)."""
        model = self._model()
        views = self.world.jobs()[before:]
        assert all(v.job_name == model.batch_id for v in views), "a job of another batch"
        return list(batch_jobs(views, model.batch_id))

    def _learn(self, job_id: str, n: int, deps: Sequence[str]) -> None:
        model = self._model()
        index = {job.job_id: job.index for job in self._sub().jobs}[job_id]
        model.n_of[job_id] = n
        model.index_of[job_id] = index
        model.deps[job_id] = tuple(deps)

    def _statuses(self) -> dict[str, str]:
        """Every job of the current batch (array children too) and its status in AWS Batch.

        ListJobs by queue lists an array's parent; its children are listed by `arrayJobId`.
        """
        states: dict[str, str] = {}
        paginator = self.observer.get_paginator("list_jobs")
        named: list[KeyValuesPairTypeDef] = [
            {"name": "JOB_NAME", "values": [self._model().batch_id]}
        ]
        parents: list[str] = []
        for page in paginator.paginate(jobQueue=self.world.queue, filters=named):
            states.update((s["jobId"], s["status"]) for s in page["jobSummaryList"])
            parents += [
                s["jobId"] for s in page["jobSummaryList"] if "size" in s.get("arrayProperties", {})
            ]
        for parent in parents:
            for page in paginator.paginate(arrayJobId=parent, filters=named):
                states.update((s["jobId"], s["status"]) for s in page["jobSummaryList"])
        return states

    def _check_output(self, job_id: str, output: str | None, state: str) -> None:
        """An output is read exactly for the jobs that succeeded, and it is the worker's."""
        model = self._model()
        if state != "SUCCEEDED":
            assert output is None, f"{job_id} is {state} but has output {output}"
            return
        assert output is not None, f"{job_id} succeeded but its output was not read"
        value = json.loads(output)
        n = int(value["n"])
        assert value == expected_output(n)
        if job_id in model.n_of:
            assert n == model.n_of[job_id], f"{job_id} ran input {n}, not {model.n_of[job_id]}"
        else:
            assert model.fail.get(n) is False or n in self.fixed, f"{job_id} ran {value}"

    def _active(self, batch_id: str) -> list[int]:
        found = self.observer.describe_job_definitions(jobDefinitionName=batch_id)
        return [d["revision"] for d in found["jobDefinitions"] if d["status"] == "ACTIVE"]

    def _attach(self) -> None:
        """Attach to the current batch with faults on; check it knows exactly AWS's jobs."""
        model = self._model()
        try:
            sub = self._attach_quietly(model.batch_id, model.io_workers)
        except AwsError as err:
            self._allowed(err, "attach")
            return
        self.counts.reattaches += 1
        aws = self._aws()
        now = current(aws)
        found = reconcile(sub.jobs, now)
        model.unseen = set()
        if self.lagging:  # ListJobs may not show yet what the manifest lacks
            # an index whose newest attempt is not listed yet shows an older one
            older = {j.job_id for j in sub.jobs if any(now[i] == j.index for i in found.lost)}
            assert found.phantoms <= older, found
            assert not found.duplicates, found
            assert not found.wrong_index, found
            model.uncertain |= found.lost
            model.unseen = {i for i in model.index_of if not self._knows(sub, i)}
            assert model.unseen <= set(aws) - {j.job_id for j in sub.jobs}
        else:
            assert found.exact, found
        assert {i: self._index(sub, i) for i in model.index_of if i not in model.unseen} == {
            i: n for i, n in model.index_of.items() if i not in model.unseen
        }
        if model.closed is not None:
            assert sub.closed == model.closed, "attach misread the definition"
        else:  # what the failed deregistration did, attach reads from AWS
            model.closed = sub.closed if sub._registry.deregistered else None
        sub._manifest.flush_every = model.flush_every
        model.sub = sub

    def _aws(self) -> dict[str, AwsJob]:
        """Every job AWS Batch has for the current batch, with its index and attempt."""
        return self.facts.jobs(self.world.jobs(), self._model().batch_id)

    @staticmethod
    def _knows(sub: JobSubmitter, job_id: str) -> bool:
        """Whether `sub` knows `job_id` (current or an earlier attempt)."""
        try:
            sub.get_job_directory(job_id)
        except JobNotFoundError:
            return False
        return True

    @staticmethod
    def _index(sub: JobSubmitter, job_id: str) -> int | None:
        """The index `sub` has for `job_id` (None: it does not know it)."""
        try:
            return int(sub.get_job_directory(job_id).rsplit("/", 1)[1])
        except JobNotFoundError:
            return None

    def _reopened(self) -> None:
        """After resubmit_failed: the batch is open again, or (nothing to rerun, or reopening
        failed) as closed as before."""
        model, sub = self._model(), self._sub()
        if sub._registry.deregistered:
            model.closed = True
        elif sub.closed:
            model.closed = None
        else:
            model.closed = False

    def _attach_quietly(self, batch_id: str, io_workers: int) -> JobSubmitter:
        return JobSubmitter.attach(
            batch_id, job_queue=self.world.queue, job_bucket=self.world.bucket,
            clients=self.world.clients, io_workers=io_workers,
            polling_interval_seconds=POLLING_INTERVAL, progress=SilentProgress(),
            seams=Seams(clock=self.clock, sleep=self.clock.sleep, heartbeat=False),
        )  # fmt: skip


# the default profile fits the suite's time budget (about 50 s of CPU on its own); the timeout
# only catches a hang, with room for a loaded machine (two workers, and whatever else runs);
# the other profiles explore as long as they need
@pytest.mark.timeout(240 if PROFILE == "ci" else 0)
def test_batch_lifecycles_survive_injected_faults(fault_counts: FaultCounts) -> None:
    before = (fault_counts.jobs_lost, fault_counts.duplicates)

    class Machine(FaultMachine):
        def __init__(self) -> None:
            super().__init__(fault_counts)

    run_state_machine_as_test(Machine, settings=FAULT_SETTINGS)
    assert (fault_counts.jobs_lost, fault_counts.duplicates) == before == (0, 0)
    assert fault_counts.faults_injected > 0
