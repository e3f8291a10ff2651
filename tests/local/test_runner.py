"""What a container is handed: each attempt's `ContainerRun` with AWS Batch's AWS_BATCH_*
variables (the stepping engine records the runs it starts; no process)."""

from __future__ import annotations

from tests.support.local import ScriptedPrograms, register, stepping_engine, submit_to


def test_a_job_gets_its_id_attempt_queue_and_its_own_environment() -> None:
    programs = ScriptedPrograms({"d": 1})
    engine, _, _ = stepping_engine(programs)
    job = submit_to(engine, register(engine), retryStrategy={"attempts": 2},
                    containerOverrides={"environment": [{"name": "MINE", "value": "1"}],
                                        "command": ["run", "it"]})  # fmt: skip
    for _ in range(4):
        engine.describe_jobs({"jobs": [job]})
    first, second = programs.runs
    assert (first.job_id, first.attempt, second.attempt) == (job, 1, 2)
    assert first.environment["AWS_BATCH_JOB_ID"] == job
    assert (
        first.environment["AWS_BATCH_JOB_ATTEMPT"],
        second.environment["AWS_BATCH_JOB_ATTEMPT"],
    ) == ("1", "2")
    assert first.environment["AWS_BATCH_JQ_NAME"] == "q"
    assert first.environment["MINE"] == "1"
    assert first.command == ("run", "it")
    assert first.image == "img"


def test_an_array_child_knows_its_index_and_the_arrays_size() -> None:
    programs = ScriptedPrograms()
    engine, _, _ = stepping_engine(programs)
    parent = submit_to(engine, register(engine), arrayProperties={"size": 3})
    engine.describe_jobs({"jobs": [parent]})
    runs = {run.job_id: run.environment for run in programs.runs}
    assert sorted(runs) == [f"{parent}:{i}" for i in range(3)]
    assert [runs[f"{parent}:{i}"]["AWS_BATCH_JOB_ARRAY_INDEX"] for i in range(3)] == ["0", "1", "2"]
    assert {env["AWS_BATCH_JOB_ARRAY_SIZE"] for env in runs.values()} == {"3"}
