"""The fault suite's steps: what a user (and AWS, and the process's own life) does to a batch.

Each `@rule` is a step with its `@precondition`: start a batch, submit jobs (one by one with
callbacks, with dependencies, as arrays, concurrently), wait, take results as they finish, read
outputs, rerun what failed, cancel, close, crash and attach; a Ctrl-C during submission,
`close()` racing submissions, AWS forgetting old jobs, the caller's own calls on the shared
client, a lagging ListJobs; and `inject`, a fault below botocore's retries between any two
steps. A step lets the SDK's errors through `_allowed` and records in the `BatchModel` what may
have reached AWS Batch; `invariants.py` checks it.
"""

from __future__ import annotations

import signal
import threading
import uuid
from collections import Counter
from collections.abc import Sequence

import pytest
from botocore.exceptions import BotoCoreError, ClientError
from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from pcr_sdk import (
    AwsError,
    BatchClosedError,
    FailureKind,
    JobResult,
    JobStatus,
    JobSubmitter,
    PcrError,
    SilentProgress,
    WaitTimeoutError,
)
from pcr_sdk._private.edge.hooks import AmbiguousCall
from pcr_sdk.advanced import Seams
from pcr_sdk.testing import Fault
from tests.faults.state import (
    FAILS,
    FAULTS,
    FINISHED,
    POLLING_INTERVAL,
    TIMES,
    BatchModel,
    FaultState,
    Service,
)
from tests.support.aws_view import bury, current, parent_of, reconcile


class FaultRules(FaultState):
    """The steps of the state machine (`FaultMachine` in test_lifecycle.py runs them)."""

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
                # how many went out depends on when the main thread takes the signal; a test in
                # tests/scenarios/test_batch_state.py checks that the rest is not started
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
