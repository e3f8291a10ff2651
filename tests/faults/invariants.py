"""What the fault suite checks: after every step, and when a batch ends.

After every step (`@invariant`): AWS Batch holds one current job per index of the batch (its
highest `pcr:attempt`), the live submitter's current job at each index is AWS's (unless AWS's
came from a call that raised), it knows every job a call returned, at the index AWS has, and
nothing AWS lacks; and no callback ran twice.

When a batch ends (`_verify`, faults cleared): a submitter attached afresh knows each index's
current job exactly once, every current job's output reads back (the worker's result for a job
that succeeded, None for one that failed), the states match what the inputs asked for, and no
job definition is left ACTIVE.
"""

from __future__ import annotations

import json
from collections import Counter

from hypothesis.stateful import invariant

from pcr_sdk import JobStatus
from tests.faults.state import FINISHED, FaultState
from tests.support.aws_view import current, expected_output, reconcile


class FaultInvariants(FaultState):
    """The checks of the state machine (`FaultMachine` in test_lifecycle.py runs them)."""

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

    # --- a second process attached to the same batch (see rules.py) ---------------------
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
