"""The threaded scheduler: one job per slot, retries back to RUNNABLE, SIGTERM then SIGKILL after
the grace period, timeouts never retried, cancelling an array (a gated launcher, no process)."""

from __future__ import annotations

from pcr_sdk.local._engine import BatchEngine
from tests.support.local import (
    GatedLauncher,
    described,
    register,
    submit_to,
    threaded_engine,
    wait_for,
)


def test_a_queued_job_stays_runnable_while_the_slot_is_taken(
    engine: BatchEngine, launcher: GatedLauncher
) -> None:
    definition = register(engine)
    first = submit_to(engine, definition)
    second = submit_to(engine, definition)
    engine.start()
    launcher.gate(first).set()
    wait_for(engine, first, "RUNNING")
    assert described(engine, second)["status"] == "RUNNABLE"

    engine.cancel_job({"jobId": second, "reason": "changed my mind"})
    cancelled = wait_for(engine, second, "FAILED")
    assert cancelled["statusReason"] == "changed my mind"
    engine.terminate_job({"jobId": first, "reason": "stop"})
    terminated = wait_for(engine, first, "FAILED")
    assert terminated["statusReason"] == "stop"
    assert terminated["container"]["exitCode"] == 137
    assert launcher.gates.keys() == {first}  # the cancelled job never started


def test_retry_goes_back_to_runnable(engine: BatchEngine, launcher: GatedLauncher) -> None:
    job_id = submit_to(engine, register(engine), retryStrategy={"attempts": 2})
    engine.start()
    launcher.gate(job_id).set()
    first = launcher.handle(job_id)
    with launcher.started:
        del launcher.handles[job_id]
    first.finish(5)
    second = launcher.handle(job_id)
    retried = described(engine, job_id)
    assert retried["status"] in ("STARTING", "RUNNING")
    assert [a["container"]["exitCode"] for a in retried["attempts"]] == [5]
    second.finish(0)
    done = wait_for(engine, job_id, "SUCCEEDED")
    assert [a["container"]["exitCode"] for a in done["attempts"]] == [5, 0]
    assert [run.attempt for run in launcher.runs] == [1, 2]


def test_terminate_sends_sigterm_and_sigkill_only_after_the_grace_period(
    launcher: GatedLauncher,
) -> None:
    """SIGKILL follows SIGTERM once the grace period (30 s times timeout_scale) is over."""
    engine = threaded_engine(launcher, timeout_scale=1 / 300)  # grace: 0.1 s
    try:
        job_id = submit_to(engine, register(engine))
        engine.start()
        launcher.gate(job_id).set()
        handle = launcher.handle(job_id)
        wait_for(engine, job_id, "RUNNING")

        engine.terminate_job({"jobId": job_id, "reason": "stop"})
        done = wait_for(engine, job_id, "FAILED")

        assert handle.signals == ["SIGTERM", "SIGKILL"]
        assert done["statusReason"] == "stop"
        assert done["container"]["exitCode"] == 137
        assert done["isTerminated"] is True
        assert done["isCancelled"] is False
    finally:
        engine.close()


def test_a_timeout_is_never_retried(launcher: GatedLauncher) -> None:
    engine = threaded_engine(launcher, timeout_scale=1 / 600, grace_seconds=0)  # timeout: 0.1 s
    try:
        job_id = submit_to(
            engine,
            register(engine),
            retryStrategy={"attempts": 3},
            timeout={"attemptDurationSeconds": 60},
        )
        engine.start()
        launcher.gate(job_id).set()
        handle = launcher.handle(job_id)

        done = wait_for(engine, job_id, "FAILED")

        assert handle.signals == ["SIGTERM", "SIGKILL"]
        assert done["statusReason"] == "Job attempt duration exceeded timeout"
        assert [a["statusReason"] for a in done["attempts"]] == [done["statusReason"]]
        assert "exitCode" not in done["attempts"][0]["container"]
        assert len(launcher.runs) == 1
    finally:
        engine.close()


def test_cancelling_a_pending_array_waits_for_its_running_children(
    engine: BatchEngine, launcher: GatedLauncher
) -> None:
    """CancelJob on an array parent: queued children fail, a running one goes on, then the
    parent fails with the reason."""
    parent = submit_to(engine, register(engine), arrayProperties={"size": 2})
    engine.start()
    first, second = f"{parent}:0", f"{parent}:1"
    launcher.gate(first).set()
    wait_for(engine, first, "RUNNING")
    assert described(engine, second)["status"] == "RUNNABLE"  # one vCPU: one child at a time

    engine.cancel_job({"jobId": parent, "reason": "no more"})
    assert wait_for(engine, second, "FAILED")["statusReason"] == "no more"
    assert described(engine, parent)["status"] == "PENDING"
    launcher.handle(first).finish(0)

    done = wait_for(engine, parent, "FAILED")
    assert done["statusReason"] == "no more"
    assert done["isCancelled"] is True
    assert done["arrayProperties"]["statusSummary"]["SUCCEEDED"] == 1
    assert done["arrayProperties"]["statusSummary"]["FAILED"] == 1


def test_a_dependent_failed_by_one_dependency_stays_failed_when_the_other_succeeds(
    engine: BatchEngine, launcher: GatedLauncher
) -> None:
    definition = register(engine)
    failing = submit_to(engine, definition)
    succeeding = submit_to(engine, definition)
    both = [{"jobId": failing}, {"jobId": succeeding}]
    dependent = submit_to(engine, definition, dependsOn=both)
    engine.start()
    launcher.gate(failing).set()
    launcher.handle(failing).finish(1)
    failed = wait_for(engine, dependent, "FAILED")
    launcher.gate(succeeding).set()
    launcher.handle(succeeding).finish(0)
    wait_for(engine, succeeding, "SUCCEEDED")
    assert described(engine, dependent)["statusReason"] == failed["statusReason"]
    assert dependent not in launcher.gates  # it never started
