"""Kill a submitting process with SIGKILL at a random moment, then attach from another one.

pcr-sdk's local backend serves S3, AWS Batch and CloudWatch Logs on an HTTP endpoint; a child
process (`_crash_child.py`) reaches it over the wire, starts a batch and submits jobs, reporting
each call that returned; the test kills it at a seeded random point (after k reports, plus a few
milliseconds, so the kill often lands inside a call) and attaches to the batch from the test
process. Then: every job AWS Batch has for the batch is known exactly once at its index, every
job the child reported is among them, every job ran its real worker (`_crash_worker.py`, which
reads its input from S3) and succeeded, waiting and reading outputs work, and the job definition
ends INACTIVE.
"""

from __future__ import annotations

import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Final

import pytest

from pcr_sdk import AwsClients, JobStatus, JobSubmitter, RateGovernor, SilentProgress
from pcr_sdk.advanced import Seams
from pcr_sdk.local import LocalBackend
from pcr_sdk.local._credentials import CREDENTIALS_FILE, LocalCredentials
from tests.faults._counts import FaultCounts
from tests.faults._crash_child import clients as connect
from tests.support.aws_view import expected_output, reconcile
from tests.support.fakes import FakeClock

if TYPE_CHECKING:
    from mypy_boto3_batch import BatchClient

pytestmark = [pytest.mark.slow, pytest.mark.subprocess]

HERE: Final = Path(__file__).parent
REGION: Final = "eu-central-1"
QUEUE: Final = "pcr-crash-queue"
BUCKET: Final = "pcr-crash-bucket"
CALLS: Final = 9  # submit calls the child makes (about 20 jobs)
LINE_TIMEOUT: Final = 30.0
SETTLE: Final = 0.3  # lets a request the child sent just before dying land on the server
SEED: Final = 20251125
IMAGE: Final = "python:3.11"  # what _crash_child.py submits with
# three kill points by default; the "thorough" hypothesis profile tries thirty
ROUNDS: Final = 30 if os.environ.get("HYPOTHESIS_PROFILE") == "thorough" else 3


@dataclass(frozen=True)
class KillPoint:
    after: int
    """Reports to read from the child before killing it (CALLS + 1: after it is done)."""
    delay: float
    """Seconds to wait after that report: the kill then lands inside the next call."""
    seed: int
    """The child's choice of calls."""


def kill_points() -> list[KillPoint]:
    """In turn early (0-2 reports), middle, and late (up to after the last call), seeded."""
    rng = random.Random(SEED)
    ranges = [(0, 2), (3, 7), (8, CALLS + 1)]
    return [
        KillPoint(rng.randint(low, high), rng.uniform(0.0, 0.03), rng.randrange(10**6))
        for low, high in (ranges[i % len(ranges)] for i in range(ROUNDS))
    ]


class Lines:
    """The lines of a child's stdout, read on a thread so that every wait has a timeout."""

    def __init__(self, stream: IO[str]) -> None:
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line)
        self._lines.put(None)

    def next(self) -> str:
        try:
            line = self._lines.get(timeout=LINE_TIMEOUT)
        except queue.Empty:
            raise AssertionError(f"no line from the child within {LINE_TIMEOUT} s") from None
        assert line is not None, "the child exited early"
        return line

    def join(self) -> None:
        self._thread.join(timeout=10)


KEYS: Final = LocalCredentials.generate()
"""The module's backend's keys (a backend with a data directory reads them from there)."""


def aws_environment() -> dict[str, str]:
    """This process's environment minus every AWS_* variable, plus the backend's keys."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env.update(
        **KEYS.environment(),
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


def stop(process: subprocess.Popen[str], lines: Lines | None) -> None:
    """SIGKILL `process` if it still runs; reap it and the thread reading its output."""
    if process.poll() is None:
        process.kill()
    process.wait(timeout=10)
    if lines is not None:
        lines.join()


@dataclass(frozen=True)
class Server:
    endpoint: str
    clients: AwsClients


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The local backend for the whole module: the child's image runs `_crash_worker.py`."""
    worker = [sys.executable, str(HERE / "_crash_worker.py")]
    data_dir = tmp_path_factory.mktemp("crash-backend")
    keys = data_dir / CREDENTIALS_FILE
    keys.write_text(
        f"[default]\naws_access_key_id = {KEYS.access_key_id}\n"
        f"aws_secret_access_key = {KEYS.secret_access_key}\n"
    )
    keys.chmod(0o600)
    with (
        pytest.MonkeyPatch.context() as env,
        LocalBackend(
            {IMAGE: worker}, bucket=BUCKET, queue=QUEUE, region=REGION,
            vcpus=64, memory_mib=256 * 1024, gpus=4, max_parallel=4, data_dir=data_dir,
        ) as backend,
    ):  # fmt: skip
        assert backend.credentials == KEYS
        for name, value in aws_environment().items():
            if name.startswith("AWS_"):
                env.setenv(name, value)  # this process's boto3 reads no real configuration
        clients = connect(backend.endpoint_url)
        try:
            yield Server(backend.endpoint_url, clients)
        finally:
            for client in (clients.batch, clients.s3, clients.logs):
                client.close()


def aws_jobs(batch: BatchClient, batch_id: str) -> dict[str, int | None]:
    """AWS Batch's jobs of `batch_id` (array children through their parent) and their indexes."""
    ids: list[str] = []
    for page in batch.get_paginator("list_jobs").paginate(
        jobQueue=QUEUE, filters=[{"name": "JOB_NAME", "values": [batch_id]}]
    ):
        ids += [summary["jobId"] for summary in page["jobSummaryList"]]
    jobs: dict[str, int | None] = {}
    for start in range(0, len(ids), 100):
        for detail in batch.describe_jobs(jobs=ids[start : start + 100])["jobs"]:
            if ":" in detail["jobId"]:
                continue  # a child: counted through its parent
            tag = detail.get("tags", {}).get("pcr:index")
            index = int(tag) if tag is not None else None
            size = detail.get("arrayProperties", {}).get("size")
            if not size:
                jobs[detail["jobId"]] = index
                continue
            for i in range(size):
                jobs[f"{detail['jobId']}:{i}"] = None if index is None else index + i
    listed_children = {job_id for job_id in ids if ":" in job_id}
    assert listed_children <= set(jobs), "ListJobs shows children of no array"
    return jobs


def run_child(server: Server, point: KillPoint) -> tuple[str, dict[str, tuple[int, int]]]:
    """Start the submitting child, SIGKILL it at `point`; return the batch id and its reports."""
    command = [
        sys.executable, str(HERE / "_crash_child.py"),
        server.endpoint, QUEUE, BUCKET, str(point.seed), str(CALLS),
    ]  # fmt: skip
    reported: dict[str, tuple[int, int]] = {}
    with subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=aws_environment(), text=True
    ) as child:
        assert child.stdout is not None
        lines: Lines | None = None
        try:
            lines = Lines(child.stdout)
            batch_id = str(json.loads(lines.next())["batch_id"])
            for _ in range(point.after):
                message = json.loads(lines.next())
                if message.get("done"):
                    break
                reported.update((job_id, (index, n)) for job_id, index, n in message["jobs"])
            time.sleep(point.delay)
            child.send_signal(signal.SIGKILL)
        finally:
            stop(child, lines)
    assert child.returncode == -signal.SIGKILL
    return batch_id, reported


@pytest.mark.parametrize(
    "point", kill_points(), ids=lambda p: f"kill-after-{p.after}-plus-{p.delay * 1000:.0f}ms"
)
def test_a_killed_submitter_loses_and_duplicates_no_job(
    server: Server, point: KillPoint, fault_counts: FaultCounts
) -> None:
    batch_id, reported = run_child(server, point)
    time.sleep(SETTLE)
    aws = aws_jobs(server.clients.batch, batch_id)

    # the dead process's session counts as closed once stale: 10 minutes on the attached
    # process's clock, a virtual one whose minute-long pauses take 20 ms (the workers are real)
    clock = FakeClock()

    def pause(seconds: float) -> None:
        clock.sleep(seconds)
        time.sleep(min(seconds, 0.02))

    attached = JobSubmitter.attach(
        batch_id, job_queue=QUEUE, job_bucket=BUCKET, clients=server.clients,
        polling_interval_seconds=60, request_throttling_milliseconds=0,
        governor=RateGovernor.per_second(1000), progress=SilentProgress(),
        seams=Seams(clock=clock, sleep=pause),
    )  # fmt: skip
    found = reconcile(attached.jobs, aws)
    fault_counts.crash_rounds += 1
    fault_counts.reattaches += 1
    fault_counts.batches_run += 1
    fault_counts.jobs_submitted += len(aws)
    fault_counts.jobs_lost += len(found.lost)
    fault_counts.duplicates += found.duplicates
    fault_counts.unreported_recovered += len(set(aws) - set(reported))
    assert found.exact, found
    known = {job.job_id: job.index for job in attached.jobs}
    assert {job_id: known.get(job_id) for job_id in reported} == {
        job_id: index for job_id, (index, _) in reported.items()
    }, "a job the dead process had reported is unknown or moved"

    attached.wait_until_jobs_finished()  # the workers read inputs, write outputs
    outputs = attached.get_all_outputs()
    assert None not in outputs
    numbers = [int(json.loads(output or "")["n"]) for output in outputs]
    assert [json.loads(o or "") for o in outputs] == [expected_output(n) for n in numbers]
    assert max(Counter(numbers).values(), default=1) == 1, "an input ran twice"
    by_job = dict(zip((job.job_id for job in attached.jobs), numbers, strict=True))
    assert {job_id: by_job[job_id] for job_id in reported} == {
        job_id: n for job_id, (_, n) in reported.items()
    }
    assert {attached.get_result(job.job_id).status for job in attached.jobs} <= {
        JobStatus.SUCCEEDED
    }
    definitions = server.clients.batch.describe_job_definitions(jobDefinitionName=batch_id)
    assert {d["status"] for d in definitions["jobDefinitions"]} == {"INACTIVE"}
    assert aws_jobs(server.clients.batch, batch_id) == aws, "a job landed after the attach"
