"""Typed job I/O through `JobSubmitter` on a MotoWorld: models in, typed outputs out."""

from __future__ import annotations

import json
from datetime import date

import pytest
from pydantic import BaseModel

from pcr_sdk import JobStatus, OutputMalformedError
from pcr_sdk._private.wire.handlers import typed
from pcr_sdk.testing import MotoWorld
from tests.support.models import Sum, Total, add
from tests.support.submitters import new_submitter


@pytest.mark.integration
def test_models_go_in_typed_outputs_come_out_and_a_bad_input_fails_only_its_job(
    moto_world: MotoWorld,
) -> None:
    moto_world.script.worker(typed(add))
    submitter = new_submitter(moto_world)
    ids = submitter.submit_jobs([Sum(x=1, y=2), {"x": "bad", "y": 1}, Sum(x=3, y=4)])
    alone = submitter.submit_job(Sum(x=5, y=5, day=date(2025, 12, 31)))
    submitter.wait_until_jobs_finished()

    outputs = submitter.get_outputs(Total)
    assert outputs == [
        Total(total=3, day=date(2024, 1, 2)),
        None,
        Total(total=7, day=date(2024, 1, 2)),
        Total(total=10, day=date(2025, 12, 31)),
    ]
    statuses = [r.status for r in submitter.get_results()]
    assert statuses == [JobStatus.SUCCEEDED, JobStatus.FAILED] + [JobStatus.SUCCEEDED] * 2
    assert submitter.get_result(ids[1]).exit_code == 1  # the harness's code for any error
    assert "not a valid Sum" in " ".join(submitter.logs(ids[1]))
    streamed = {r.index: r.output_as(Total) for r in submitter.as_completed()}
    assert [streamed[i] for i in range(4)] == outputs
    assert json.loads(submitter.get_output(alone))["day"] == "2025-12-31"


@pytest.mark.integration
def test_an_input_model_is_sent_as_its_json_dump(moto_world: MotoWorld) -> None:
    submitter = new_submitter(moto_world)
    job_id = submitter.submit_job(Sum(x=1, y=2, day=date(2030, 1, 1)))
    key = submitter.layout.config_key(submitter.jobs[0].index)
    body = moto_world.clients.s3.get_object(Bucket=moto_world.bucket, Key=key)["Body"].read()
    assert json.loads(body) == {"x": 1, "y": 2, "day": "2030-01-01"}
    assert job_id == submitter.jobs[0].job_id
    submitter.close()


@pytest.mark.integration
def test_an_output_that_does_not_validate_names_its_job_and_index(moto_world: MotoWorld) -> None:
    moto_world.script.worker(lambda data: {"total": data["n"]} if data["n"] else {"total": "x"})
    submitter = new_submitter(moto_world)
    ids = submitter.submit_jobs([{"n": 1}, {"n": 0}, {"n": 2}])
    submitter.wait_until_jobs_finished()
    with pytest.raises(OutputMalformedError) as info:
        submitter.get_outputs(Count)
    err = info.value
    assert (err.job_id, err.index) == (ids[1], 1)
    assert f"output of job {ids[1]} (index 1) is not a valid Count: total:" in str(err)
    assert err.key == submitter.layout.output_key(1)
    results = {r.index: r for r in submitter.as_completed()}
    assert results[2].output_as(Count) == Count(total=2)
    with pytest.raises(OutputMalformedError, match=r"\(index 1\)"):
        results[1].output_as(Count)


class Count(BaseModel):
    total: int
