"""`pcr report` on a mocked account: successes, failures, a retried job, dependencies and an
array render through the command, in a few Batch calls per 100 jobs, into a page that
references nothing outside itself."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from pcr_sdk import JobSubmitter, SilentProgress
from pcr_sdk.advanced import Seams
from pcr_sdk.cli._runtime import Runtime
from pcr_sdk.testing import MotoWorld
from tests.cli._helpers import assert_clean_exit, invoke, lines
from tests.report._page import URL_ATTRIBUTES, parse

NOW_MS = 4_102_444_800_000  # 2100-01-01: after every job of the test
PLAIN = 120
ARRAY = 30


class BatchCalls:
    """Counts the Batch calls made through the CLI's client, by operation."""

    def __init__(self, world: MotoWorld) -> None:
        self.counts: Counter[str] = Counter()
        world.clients.batch.meta.events.register("before-call.batch", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.counts[model.name] += 1


def _retried(job_ids: set[str]) -> Any:
    """After DescribeJobs: the jobs in `job_ids` show a failed first attempt (a retry)."""

    def add_attempt(parsed: dict[str, Any], **_: Any) -> None:
        for detail in parsed.get("jobs", []):
            if detail["jobId"] in job_ids and detail.get("attempts"):
                first = {"container": {"exitCode": 137, "reason": "OutOfMemoryError"}}
                detail["attempts"] = [first, *detail["attempts"]]

    return add_attempt


@pytest.fixture(scope="module")
def finished_batch() -> Any:
    """One finished batch for the module's tests (151 jobs take seconds to run in moto)."""
    with MotoWorld() as world:
        world.script.worker(lambda data: {"double": 2 * data["i"]})
        world.script.fail(index=3, exit_code=2, log_lines=["loading", "ValueError: three"])
        world.script.fail(index=PLAIN + 4, exit_code=5, log_lines=["child four failed"])
        submitter = JobSubmitter(
            "reported",
            world.queue,
            "img",
            world.bucket,
            clients=world.clients,
            progress=SilentProgress(),
            seams=Seams(sleep=lambda s: None),
            gpus=1,
            vcpus=2,
            memory_in_mb=4096,
        )
        plain = submitter.submit_jobs([{"i": i} for i in range(PLAIN)], array=False)
        children = submitter.submit_jobs([{"i": i} for i in range(ARRAY)])
        after = submitter.submit_job({"i": -1}, depends_on_job_ids=[plain[0], plain[1]])
        submitter.wait_until_jobs_finished()
        world.clients.batch.meta.events.register(
            "after-call.batch.DescribeJobs", _retried({plain[5]})
        )
        yield world, submitter.get_batch_id(), plain, children, after


def test_report_renders_a_real_batch_in_few_calls(finished_batch: Any, tmp_path: Path) -> None:
    world, batch_id, plain, children, after = finished_batch
    runtime = Runtime(aws_clients=lambda region: world.clients, now_ms=lambda: NOW_MS)
    calls = BatchCalls(world)
    output = tmp_path / "page.html"
    result = invoke(["report", batch_id, "--queue", world.queue, "-o", str(output)], obj=runtime)
    assert_clean_exit(result, 0)
    assert lines(result.stdout) == [str(output)]
    jobs = PLAIN + ARRAY + 1
    assert f"batch {batch_id}: {jobs} job(s), finished, 2 failed" in result.stderr

    total = sum(calls.counts.values())
    assert total <= 4 + 3 * math.ceil(jobs / 100), calls.counts  # measured: 8 for 151 jobs
    assert calls.counts["DescribeJobs"] <= 1 + math.ceil(PLAIN / 100) + 2, calls.counts

    document = output.read_text(encoding="utf-8")
    page = parse(document)
    assert page.errors == []
    assert "<script" not in document.lower()
    for element in page.elements:
        assert not URL_ATTRIBUTES & set(element.attrs), element
    for needle in ("http:", "https:", "src=", "href=", "url(", "@import"):
        assert needle not in document.lower(), needle
    assert "ValueError: three" in page.text  # a failed job's log tail
    assert "child four failed" in page.text  # a failed array child's, read via its parent
    assert batch_id in page.text

    data = invoke(["report", batch_id, "--queue", world.queue, "--json"], obj=runtime)
    assert_clean_exit(data, 0)
    report = json.loads(data.stdout)
    summary = report["summary"]
    assert summary["jobs"] == jobs
    assert summary["now_ms"] == NOW_MS
    assert summary["counts_by_status"] == {"SUCCEEDED": jobs - 2, "FAILED": 2}
    assert summary["counts_by_failure"] == {"non-zero-exit": 2}
    assert summary["retries"] == 1
    assert summary["jobs_retried"] == 1
    by_id = {job["job_id"]: job for job in report["jobs"]}
    assert by_id[plain[5]]["attempts"] == 2
    assert by_id[after]["depends_on"] == [plain[0], plain[1]]
    assert by_id[children[0]]["array_id"] == children[0].split(":")[0]
    assert [by_id[c]["index"] for c in children] == list(range(PLAIN, PLAIN + ARRAY))
    assert {(j["vcpus"], j["gpus"], j["memory_mib"]) for j in report["jobs"]} == {(2.0, 1, 4096)}
    assert set(report["failed"]) == {plain[3], children[4]}
    assert by_id[plain[3]]["log_tail"] == ["loading", "ValueError: three"]


def test_report_names_its_default_file_and_refuses_unknown_batches(
    finished_batch: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world, batch_id, *_ = finished_batch
    runtime = Runtime(aws_clients=lambda region: world.clients)
    monkeypatch.chdir(tmp_path)
    result = invoke(["report", batch_id, "--queue", world.queue], obj=runtime)
    assert_clean_exit(result, 0)
    assert lines(result.stdout) == [f"{batch_id}.html"]
    assert (tmp_path / f"{batch_id}.html").read_text(encoding="utf-8").startswith("<!DOCTYPE")
    ghost = "ghost_6f1c1bd6-4d2c-4f0c-9d7e-1d0b7f2c7a11"
    missing = invoke(["report", ghost, "--queue", world.queue], obj=runtime)
    assert_clean_exit(missing, 1)
    assert f"no jobs of batch {ghost}" in missing.stderr
    malformed = invoke(["report", "nope", "--queue", world.queue], obj=runtime)
    assert_clean_exit(malformed, 2)
