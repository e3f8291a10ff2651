"""Batch lifecycles that exercise every AWS call pcr-sdk makes (library and CLI) on a MotoWorld."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pcr_sdk import AwsError, JobStatus, JobSubmitter, SilentProgress
from pcr_sdk.advanced import Seams
from pcr_sdk.cli._runtime import Runtime
from pcr_sdk.testing import Fault, MotoWorld
from tests.support.cli import invoke

INPUTS = [{"x": 2, "y": 3}, {"x": 10, "y": 4}, {"x": -1, "y": 7}]


def sum_product(data: Any) -> dict[str, int]:
    return {"x+y": data["x"] + data["y"], "x*y": data["x"] * data["y"]}


def no_sleep(seconds: float) -> None:
    del seconds


def submitter(
    world: MotoWorld, name: str, *, queue: str, bucket: str, job_role_arn: str | None = None
) -> JobSubmitter:
    return JobSubmitter(
        name,
        queue,
        "img:1",
        bucket,
        clients=world.clients,
        progress=SilentProgress(),
        seams=Seams(sleep=no_sleep),
        vcpus=1,
        gpus=0,
        job_role_arn=job_role_arn,
    )


def upload_in_parts(world: MotoWorld, sub: JobSubmitter) -> None:
    """Large packed inputs go in parts (multipart upload); a failed one is aborted."""
    size = 17 * 1024**2
    key = f"{sub.layout.root}/arrays/big.pack"
    sub._store.upload(key, [b"x" * size], size)
    world.faults.add(service="s3", operation="UploadPart", kind=Fault.SERVER_ERROR, times=None)
    try:
        sub._store.upload(f"{key}.2", [b"y" * size], size)
    except AwsError:
        pass
    else:
        raise AssertionError("the upload should have failed")
    finally:
        world.faults.clear()


def run_batch(
    world: MotoWorld, *, queue: str, bucket: str, job_role_arn: str | None = None
) -> list[Any]:
    """submit, wait, outputs: the seed's lifecycle; returns the parsed outputs."""
    with submitter(
        world, "stack-check", queue=queue, bucket=bucket, job_role_arn=job_role_arn
    ) as sub:
        for data in INPUTS:
            sub.submit_job(data)
        sub.wait_until_jobs_finished()
        return [None if out is None else json.loads(out) for out in sub.get_all_outputs()]


def run_everything(world: MotoWorld, tmp_path: Path, *, queue: str, bucket: str) -> None:
    """Every library entry point and CLI command that talks to AWS, against `queue`/`bucket`.

    The world's script must compute `sum_product` and fail job index 1 of "iam-check" with a
    log line; `world.script.polls` keeps "iam-cancel" jobs running until cancelled.
    """
    with submitter(world, "iam-check", queue=queue, bucket=bucket) as sub:
        first = sub.submit_job(INPUTS[0])
        failing = sub.submit_job(INPUTS[1], depends_on_job_ids=[first])
        sub.submit_jobs(INPUTS)  # one array job
        sub.submit_jobs(INPUTS[:2], array=False)  # per-job, concurrently
        sub._store.put_resource(0, "extra.bin", b"\x00\x01")
        assert sub._store.get_resource(0, "extra.bin") == b"\x00\x01"
        upload_in_parts(world, sub)
        sub.wait_until_jobs_finished()
        outputs = sub.get_all_outputs()
        assert outputs[0] is not None
        assert outputs[1] is None
        assert sub.get_result(failing).status is JobStatus.FAILED
        assert sub.get_output_json(first) == sum_product(INPUTS[0])
        assert sub.logs(failing) == ["ValueError: boom"]
        batch_id = sub.get_batch_id()
        rerun = sub.resubmit_failed()  # reopens the batch; removes the failed job's output
        assert len(rerun) == 1

    attached = JobSubmitter.attach(
        batch_id,
        job_queue=queue,
        job_bucket=bucket,
        clients=world.clients,
        seams=Seams(sleep=no_sleep),
    )
    assert len(attached.get_all_outputs()) == len(outputs)

    with submitter(world, "iam-cancel", queue=queue, bucket=bucket) as running:
        running.submit_job(INPUTS[0])
        running.submit_jobs(INPUTS)
        results = running.cancel("checking the policy", timeout=None)
        assert {r.status for r in results.values()} == {JobStatus.FAILED}

    aws = Runtime(aws_clients=lambda region: world.clients, sleep=no_sleep)
    where = ["--queue", queue, "--bucket", bucket]
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text("\n".join(json.dumps(i) for i in INPUTS) + "\n", encoding="utf-8")
    done, slow, cancelled = (
        cli(aws, "submit", str(jobs), *where, "--image", "img:1", "--name", name)
        for name in ("cli", "iam-slow", "iam-cancel")
    )
    cli(aws, "status", done, *where)
    cli(aws, "wait", done, *where)
    cli(aws, "outputs", done, *where)
    cli(aws, "logs", failing, "--tail", "5")
    cli(aws, "retry", batch_id, *where, "--wait")  # the rerun fails again: exit 1
    cli(aws, "run", str(jobs), *where, "--image", "img:1", "--name", "cli-run")
    cli(aws, "report", done, "--queue", queue, "--json")
    cli(aws, "status", slow, "--queue", queue)
    listed = world.clients.batch.list_jobs(
        jobQueue=queue, filters=[{"name": "JOB_NAME", "values": [slow]}]
    )["jobSummaryList"]
    slow_ids = [s["jobId"] for s in listed]
    statuses: list[str] = []  # the harness moves a job one status per describe: to RUNNABLE
    while "RUNNABLE" not in statuses[-1:]:
        statuses.append(world.clients.batch.describe_jobs(jobs=slow_ids)["jobs"][0]["status"])
        assert len(statuses) < 5, statuses  # a status before RUNNABLE was left behind
    assert cli(aws, "stop-runnable", queue, "--yes")  # terminated job ids
    # its DescribeJobs moved them on to STARTING: as on AWS, they fail once their attempts
    # are stopped (the next step), and only then is their definition no longer in use
    cli(aws, "status", slow, "--queue", queue)
    cli(aws, "cancel", cancelled, "--queue", queue)
    assert cli(aws, "cleanup", "--yes")  # deregistered definitions
    assert cli(aws, "cleanup", "--data", done, "--bucket", bucket, "--yes")  # deleted objects


def cli(aws: Runtime, *args: str) -> str:
    """Run `pcr ARGS` in-process; it must end cleanly (0, or 1 for failed jobs); its stdout."""
    result = invoke(list(args), obj=aws)
    assert "Traceback" not in result.stderr, (args, result.stderr)
    assert result.exit_code in (0, 1), (args, result.stdout, result.stderr)
    return result.stdout.strip()
