"""The `pcr` command is a thin layer over pcr-sdk's public API: it imports nothing private,
and every AWS Batch call it causes waits for its governor first."""

from __future__ import annotations

import ast
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import pcr_sdk.cli
from pcr_sdk import JobSubmitter, RateGovernor, SilentProgress
from pcr_sdk._private.wire import facts
from pcr_sdk.advanced import Seams
from pcr_sdk.cli import _governed
from pcr_sdk.cli._runtime import Runtime
from pcr_sdk.testing import MotoWorld
from tests.support.cli import assert_clean_exit, invoke, lines, write_jobs

pytestmark = pytest.mark.subprocess

CLI = Path(pcr_sdk.cli.__file__).parent


def _imports(path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def test_the_cli_imports_no_private_module() -> None:
    files = sorted(CLI.rglob("*.py"))
    assert len(files) > 10
    private = {
        f"{path.name}: {name}"
        for path in files
        for name in _imports(path)
        if "._private" in name or name.startswith("pcr_sdk.local._")
    }
    assert private == set()


def test_the_tags_the_cli_filters_on_are_the_sdks() -> None:
    assert _governed.TAG_BATCH_ID == facts.TAG_BATCH_ID
    assert _governed.TAG_INDEX == facts.TAG_INDEX
    assert _governed.TAG_MANAGED_BY == facts.TAG_MANAGED_BY
    assert _governed.MANAGED_BY_VALUE == facts.MANAGED_BY_VALUE
    assert _governed.DESCRIBE_JOBS_MAX_IDS == facts.DESCRIBE_JOBS_MAX_IDS


class CountingGovernor(RateGovernor):
    """Admits everything at once; counts admissions per thread."""

    def __init__(self) -> None:
        super().__init__(10_000, 1.0)
        self.local = threading.local()

    def acquire(self) -> float:
        self.local.pending = getattr(self.local, "pending", 0) + 1
        return 0.0


class Audit:
    """Every Batch call made through the CLI's client, and those no admission preceded."""

    def __init__(self, world: MotoWorld, governor: CountingGovernor) -> None:
        self.governor = governor
        self.calls: list[str] = []
        self.ungoverned: list[str] = []
        self.active = False
        world.clients.batch.meta.events.register("before-call.batch", self._on_call)

    def _on_call(self, model: Any, **_: Any) -> None:
        if not self.active:
            return
        self.calls.append(model.name)
        local = self.governor.local
        if getattr(local, "pending", 0) < 1:
            self.ungoverned.append(model.name)
        local.pending = 0  # the next call needs an admission of its own


@pytest.fixture
def audited(moto_world: MotoWorld) -> tuple[MotoWorld, Runtime, Audit]:
    governor = CountingGovernor()
    audit = Audit(moto_world, governor)
    runtime = Runtime(
        aws_clients=lambda region: moto_world.clients,
        sleep=lambda seconds: None,
        governor=lambda: governor,
    )
    return moto_world, runtime, audit


@pytest.mark.moto_world(polls_to_finish=10)  # its jobs stay unfinished
def test_every_batch_call_of_every_command_is_governed(
    audited: tuple[MotoWorld, Runtime, Audit], tmp_path: Path
) -> None:
    world, runtime, audit = audited
    world.script.worker(lambda data: data)
    world.script.fail(index=1, exit_code=2, log_lines=["boom"])
    leftover = JobSubmitter(
        "leftover", world.queue, "img", world.bucket, clients=world.clients,
        progress=SilentProgress(), gpus=0, vcpus=1,
    )  # fmt: skip
    stuck = JobSubmitter(
        "stuck", world.queue, "img", world.bucket, clients=world.clients,
        progress=SilentProgress(), gpus=0, vcpus=1, seams=Seams(sleep=lambda s: None),
    )  # fmt: skip
    stuck.submit_jobs([{"i": i} for i in range(3)])  # an array
    stuck_too = JobSubmitter(
        "stuck-too", world.queue, "img", world.bucket, clients=world.clients,
        progress=SilentProgress(), gpus=0, vcpus=1, seams=Seams(sleep=lambda s: None),
    )  # fmt: skip
    jobs = write_jobs(tmp_path / "jobs.jsonl", [f'{{"x": {i}}}' for i in range(5)])
    where = ["--queue", world.queue, "--bucket", world.bucket]
    audit.active = True

    submitted = invoke(["submit", str(jobs), *where, "--image", "i"], obj=runtime)
    assert_clean_exit(submitted, 0)
    (batch_id,) = lines(submitted.stdout)
    commands = [
        ["status", batch_id, *where],
        ["outputs", batch_id, *where],
        ["wait", batch_id, *where],
        ["report", batch_id, "--queue", world.queue, "--json"],
        ["run", str(jobs), *where, "--image", "i", "--array"],
        ["cancel", stuck.get_batch_id(), "--queue", world.queue],
    ]
    for args in commands:
        result = invoke(args, obj=runtime)
        assert result.exit_code in (0, 1), (args, result.stderr)
    audit.active = False
    waiting = [stuck_too.submit_job({"i": i}) for i in range(2)]
    for _ in range(3):  # the harness moves a job one status per describe: to RUNNABLE
        world.clients.batch.describe_jobs(jobs=waiting)
    audit.active = True
    stopped = invoke(["stop-runnable", world.queue, "--yes"], obj=runtime)
    assert_clean_exit(stopped, 0)
    assert sorted(lines(stopped.stdout)) == sorted(waiting)
    assert_clean_exit(invoke(["cleanup", "--yes", "--include-in-use"], obj=runtime), 0)
    failed_job = next(c.job_id for c in world.submitted() if c.tags.get("pcr:index") == "1")
    assert failed_job is not None
    assert_clean_exit(invoke(["logs", failed_job], obj=runtime), 0)
    audit.active = False

    assert audit.ungoverned == []
    assert {"SubmitJob", "DescribeJobs", "ListJobs", "RegisterJobDefinition"} <= set(audit.calls)
    assert {"TerminateJob", "DeregisterJobDefinition", "DescribeJobDefinitions"} <= set(audit.calls)
    assert leftover._registry.arn not in submitted.stdout
