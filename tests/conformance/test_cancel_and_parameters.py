"""Points 6 and 7: when CancelJob takes effect; `Ref::` parameter substitution."""

from __future__ import annotations

import pytest

from pcr_sdk._private.wire import facts
from tests.conformance import scripts
from tests.conformance.target import Target

pytestmark = [pytest.mark.conformance, pytest.mark.slow]


def test_a_cancelled_pending_job_fails_once_its_dependency_is_done(target: Target) -> None:
    """Point 6: "A PENDING job is canceled after all dependency jobs are completed."
    https://docs.aws.amazon.com/batch/latest/APIReference/API_CancelJob.html"""
    waits = target.definition(
        "waits", target.script(scripts.WAIT_FOR_KEY, target.bucket, target.key("cancel"))
    )
    dependency = target.submit(waits)
    dependent = target.submit(target.definition("cancelled", target.script(scripts.ARGS)),
                              depends_on=[dependency])  # fmt: skip
    target.wait_for_line(dependency, "ready")
    target.wait([dependent], statuses={"PENDING"})

    target.batch.cancel_job(jobId=dependent, reason="not wanted")
    assert target.describe(dependent)["status"] == "PENDING"
    target.release("cancel")
    jobs = target.wait([dependency, dependent])

    assert jobs[dependency]["status"] == "SUCCEEDED"
    assert jobs[dependent]["status"] == "FAILED"
    assert jobs[dependent]["statusReason"] == "not wanted"
    assert jobs[dependent].get("isCancelled") is True
    assert jobs[dependent]["attempts"] == []


def test_a_cancelled_runnable_job_fails(target: Target) -> None:
    """Point 6: a RUNNABLE job (here one that can never be placed) is cancelled to FAILED.
    https://docs.aws.amazon.com/batch/latest/APIReference/API_CancelJob.html"""
    definition = target.definition(
        "runnable", target.script(scripts.ARGS), memory=str(facts.MAX_MEMORY_MIB)
    )
    job_id = target.submit(definition)
    target.wait([job_id], statuses={"RUNNABLE"})

    target.batch.cancel_job(jobId=job_id, reason="never mind")
    job = target.wait([job_id])[job_id]

    assert job["status"] == "FAILED"
    assert job["statusReason"] == "never mind"
    assert job.get("isCancelled") is True


def test_ref_placeholders_take_the_submitted_parameters_over_the_defaults(target: Target) -> None:
    """Point 7: `Ref::name` in the definition's command is replaced by parameter `name`: the
    definition's default unless SubmitJob's `parameters` override it.
    https://docs.aws.amazon.com/batch/latest/userguide/example-use-parameters.html"""
    definition = target.definition(
        "parameters",
        target.script(scripts.ARGS, "Ref::codec", "Ref::inputfile", "plain"),
        parameters={"codec": "mp4", "inputfile": "default.mov"},
    )
    defaults = target.submit(definition)
    overridden = target.submit(definition, parameters={"inputfile": "movie.mov"})

    jobs = target.wait([defaults, overridden])

    assert target.log(jobs[defaults]) == ["mp4 default.mov plain"]
    assert target.log(jobs[overridden]) == ["mp4 movie.mov plain"]
