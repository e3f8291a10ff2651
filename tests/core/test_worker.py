"""pcr_sdk.worker: the container side reads the contract and moves JSON through S3."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest

from pcr_sdk import (
    AwsConnectionError,
    BatchLayout,
    InvalidJobSpecError,
    PcrError,
    WorkerEnvironmentError,
)
from pcr_sdk import worker as worker_module
from pcr_sdk._private.errors import WorkerContractError
from pcr_sdk._private.wire.layout import ENV_ARRAY_BASE_INDEX, ENV_WORKER_CONTRACT
from pcr_sdk._private.wire.packing import pack_indexed
from pcr_sdk.testing import Fault, MotoWorld
from pcr_sdk.worker import UNSUPPORTED_CONTRACT_EXIT_CODE, JobContext, run
from tests.core.conftest import BUCKET

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.moto_world(polls_to_finish=1)  # for the test on a MotoWorld


BATCH = "example_c6bc6ee9-0000-4000-8000-000000000000"


@pytest.fixture
def environ(s3: S3Client) -> dict[str, str]:
    layout = BatchLayout(BATCH)
    s3.put_object(Bucket=BUCKET, Key=layout.config_key(0), Body=b'{"x": 2, "y": 3}')
    return {**layout.environment(bucket=BUCKET, index=0), "AWS_BATCH_JOB_ID": "job-1"}


def test_from_env_names_every_missing_variable() -> None:
    with pytest.raises(WorkerEnvironmentError) as info:
        JobContext.from_env({"S3_JOB_BUCKET": "b", "BATCH_ID": "x"})
    assert info.value.missing == ("S3_JOB_CONFIG_KEY", "S3_JOB_PREFIX", "S3_OUTPUT_OJBECT_KEY")
    assert "S3_OUTPUT_OJBECT_KEY" in str(info.value)


@pytest.mark.integration
def test_run_computes_and_writes_the_output(s3: S3Client, environ: dict[str, str]) -> None:
    def handler(data: Any) -> dict[str, int]:
        return {"x+y": data["x"] + data["y"], "x*y": data["x"] * data["y"]}

    run(handler, environ=environ, s3=s3)
    body = s3.get_object(Bucket=BUCKET, Key=environ["S3_OUTPUT_OJBECT_KEY"])["Body"].read()
    assert json.loads(body) == {"x+y": 5, "x*y": 6}


@pytest.mark.integration
def test_a_failing_handler_exits_1_and_writes_nothing(
    s3: S3Client, environ: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    def handler(data: Any) -> object:
        raise ValueError("boom")

    with caplog.at_level(logging.ERROR), pytest.raises(SystemExit) as info:
        run(handler, environ=environ, s3=s3)
    assert info.value.code == 1
    assert "boom" in caplog.text
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=environ["S3_JOB_PREFIX"])
    assert [o["Key"] for o in listed["Contents"]] == [environ["S3_JOB_CONFIG_KEY"]]


@pytest.mark.integration
def test_resources_live_under_the_job_prefix(s3: S3Client, environ: dict[str, str]) -> None:
    context = JobContext.from_env(environ, s3=s3)
    uri = context.put_resource("arrays/x.bin", b"\x00\x01")
    assert uri == f"s3://{BUCKET}/{environ['S3_JOB_PREFIX']}/arrays/x.bin"
    assert context.get_resource("arrays/x.bin") == b"\x00\x01"
    with pytest.raises(InvalidJobSpecError):
        context.put_resource("../other-job/x", b"")


@pytest.mark.integration
def test_output_must_be_strict_json(s3: S3Client, environ: dict[str, str]) -> None:
    with pytest.raises(InvalidJobSpecError):
        JobContext.from_env(environ, s3=s3).save_output({"x": float("nan")})


@pytest.mark.integration
def test_the_worker_maps_s3_errors(moto_world: MotoWorld) -> None:
    """Defect 4: the worker raised raw botocore errors."""
    env = {
        "S3_JOB_BUCKET": moto_world.bucket, "S3_JOB_CONFIG_KEY": "jobs/b_x/000000/config.json",
        "S3_JOB_PREFIX": "jobs/b_x/000000", "S3_OUTPUT_OJBECT_KEY": "jobs/b_x/000000/output.json",
        "BATCH_ID": "b_x",
    }  # fmt: skip
    context = JobContext.from_env(env, s3=moto_world.clients.s3)
    moto_world.faults.add(service="s3", kind=Fault.CONNECTION_ERROR, times=None)
    with pytest.raises(AwsConnectionError):
        context.load_input()
    with pytest.raises(AwsConnectionError):
        context.save_output({"ok": 1})
    moto_world.faults.clear()
    with pytest.raises(PcrError):
        context.load_input()  # no config.json: an AwsError, not a raw ClientError


LAYOUT = BatchLayout("rerun_c6bc6ee9-0000-4000-8000-000000000000")  # a rerun array's batch


def rerun_child(s3: S3Client, child: int) -> dict[str, str]:
    """The environment of child `child` of a rerun array of jobs 4 and 9."""
    key = LAYOUT.indexed_inputs_key(4, 2)
    s3.put_object(Bucket=BUCKET, Key=key, Body=pack_indexed([(4, b'{"n": 4}'), (9, b'{"n": 9}')]))
    env = LAYOUT.indexed_array_environment(bucket=BUCKET, inputs_key=key)
    return {**env, "AWS_BATCH_JOB_ARRAY_INDEX": str(child), "AWS_BATCH_JOB_ID": f"a:{child}"}


@pytest.mark.integration  # moto's S3
def test_a_rerun_child_finds_its_job_in_the_index_table(s3: S3Client) -> None:
    env = rerun_child(s3, 1)
    assert env[ENV_WORKER_CONTRACT] == "2"
    context = JobContext.from_env(env, s3=s3)
    assert (context.index, context.output_key) == (9, LAYOUT.output_key(9))
    run(lambda data: {"twice": 2 * data["n"]}, environ=env, s3=s3)
    body = s3.get_object(Bucket=BUCKET, Key=LAYOUT.output_key(9))["Body"].read()
    assert json.loads(body) == {"twice": 18}
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix=LAYOUT.prefix(1))


class NoS3:
    """An S3 client that must not be used."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the worker called S3 ({name}) before refusing the job")


@pytest.mark.integration  # moto's S3
def test_an_older_worker_fails_a_rerun_child_before_touching_s3(
    s3: S3Client, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    env = rerun_child(s3, 0)
    monkeypatch.setattr(worker_module, "WORKER_CONTRACT_VERSION", 1)  # a worker of contract 1
    with caplog.at_level(logging.ERROR), pytest.raises(SystemExit) as exit_:
        run(lambda data: data, environ=env, s3=NoS3())  # type: ignore[arg-type]
    assert exit_.value.code == UNSUPPORTED_CONTRACT_EXIT_CODE == 3
    (line,) = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert "needs worker contract 2" in line
    assert "rebuild the image with a newer pcr-sdk" in line


@pytest.mark.parametrize("version", ["3", "two", "0"])
def test_this_worker_refuses_a_contract_it_does_not_know(version: str) -> None:
    env = {
        **LAYOUT.indexed_array_environment(bucket=BUCKET, inputs_key="k"),
        ENV_WORKER_CONTRACT: version, "AWS_BATCH_JOB_ARRAY_INDEX": "0",
    }  # fmt: skip
    with pytest.raises(WorkerContractError) as info:
        JobContext.from_env(env, s3=NoS3())  # type: ignore[arg-type]
    assert (info.value.required, info.value.supported) == (version, 2)
    with pytest.raises(SystemExit) as exit_:
        run(lambda data: data, environ=env, s3=NoS3())  # type: ignore[arg-type]
    assert exit_.value.code == 3


@pytest.mark.integration  # moto's S3
def test_a_worker_from_before_the_contract_variable_refuses_a_rerun_child(s3: S3Client) -> None:
    """Such a worker reads every array child through PCR_ARRAY_BASE_INDEX, which a rerun array
    does not set: it fails on the missing variable, before reading or writing anything."""
    env = rerun_child(s3, 0)
    with pytest.raises(WorkerEnvironmentError) as info:
        JobContext._array_child(env, s3)  # the only path a worker without contract 2 has
    assert info.value.missing == (ENV_ARRAY_BASE_INDEX,)


@pytest.mark.subprocess
def test_a_worker_handed_its_s3_client_never_imports_boto3() -> None:
    """A job process that gives `run` its own client starts without boto3 (0.3 s of CPU)."""
    probe = (
        "import io, sys\n"
        "from pcr_sdk._private.wire.layout import BatchLayout\n"
        "from pcr_sdk.worker import run\n"
        "layout = BatchLayout('b_c6bc6ee9-0000-4000-8000-000000000000')\n"
        "store = {layout.config_key(0): b'{\"x\": 2}'}\n"
        "class S3:\n"
        "    def get_object(self, Bucket, Key):\n"
        "        return {'Body': io.BytesIO(store[Key])}\n"
        "    def put_object(self, Bucket, Key, Body, **_):\n"
        "        store[Key] = Body\n"
        "env = layout.environment(bucket='bk', index=0)\n"
        "run(lambda data: {'y': data['x'] + 1}, environ=env, s3=S3())\n"
        "print(store[layout.output_key(0)], 'boto3' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.split() == ["""b'{"y":3}'""", "False"]
