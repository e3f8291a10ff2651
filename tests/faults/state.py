"""The fault suite's state: the world, what the test knows about the current batch, and the
helpers its rules (`rules.py`) and invariants (`invariants.py`) share.

`FaultState` holds one `MotoWorld` per example (batches run one after another inside it), an
observer client that sees no faults, and `BatchModel`: what may have reached AWS Batch, whatever
the SDK said.
"""

from __future__ import annotations

import functools
import logging
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final, Literal

import boto3
from hypothesis import note
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine

from pcr_sdk import (
    AwsError,
    BatchClosedError,
    JobInput,
    JobNotFoundError,
    JobSubmitter,
    PcrError,
    RerunLeaseHeldError,
    SilentProgress,
    WaitTimeoutError,
)
from pcr_sdk.advanced import Seams
from pcr_sdk.testing import Fault, MotoWorld
from tests.faults._counts import FaultCounts
from tests.support.aws_view import AwsFacts, AwsJob, batch_jobs, expected_output
from tests.support.fakes import FakeClock
from tests.support.sharing import stored_object

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


class FaultState(RuleBasedStateMachine):
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
    def _submit_either(sub: JobSubmitter, inputs: Sequence[JobInput], *, array: bool) -> None:
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

    def _active(self, batch_id: str) -> list[int]:
        found = self.observer.describe_job_definitions(jobDefinitionName=batch_id)
        return [d["revision"] for d in found["jobDefinitions"] if d["status"] == "ACTIVE"]

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

    def _verify(self) -> None:
        """The checks when a batch ends: `FaultInvariants._verify` (invariants.py)."""
        raise NotImplementedError

    def _check_output(self, job_id: str, output: str | None, state: str) -> None:
        """An output is checked against the worker's: `FaultInvariants._check_output`."""
        raise NotImplementedError

    # --- a second process attached to the same batch (see rules.py) ---------------------
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
