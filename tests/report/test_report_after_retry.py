"""After a `pcr retry`, `pcr report` shows the original failures and their reruns.

A real `pcr local serve` process; every other command runs as a process too, with nothing but
the `export` lines the server printed (no --queue, --bucket or --poll-seconds, no AWS
configuration): `pcr submit`, `pcr wait` (three jobs fail: their first attempt raises),
`pcr retry --wait` (their reruns succeed), `pcr report`. The page is then read in Chromium.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

import pytest

from tests.support.browser import Loaded
from tests.support.cli import LAUNCHER, PcrProcess, lines, write_jobs

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

pytestmark = [
    pytest.mark.subprocess,
    pytest.mark.skipif(sys.platform != "linux", reason="pcr local serve's tests run on Linux"),
]

FLAKY: Final = """
import pathlib, sys
from pcr_sdk.worker import run
sys.path.insert(0, CHECKOUT)
from tests.support.light_s3 import light_s3

MARKS = pathlib.Path(sys.argv[1])

def handler(data):
    mark = MARKS / str(data["n"])
    if data["flaky"] and not mark.exists():
        mark.write_text("")
        raise ValueError(f"broken input {data['n']}")
    return {"n": data["n"]}

if __name__ == "__main__":
    run(handler, s3=light_s3())
""".replace("CHECKOUT", repr(str(Path(__file__).resolve().parents[2])))
"""Fails a flaky input's first attempt (with a traceback), succeeds from then on; on the
standard library's S3 client (`tests.support.light_s3`: its jobs do not import boto3)."""
FLAKY_INPUTS: Final = (1, 3, 4)
JOBS: Final = 6


@dataclass(frozen=True)
class Retried:
    """What each command of the session printed, and the report it wrote."""

    env: dict[str, str]
    batch_id: str
    waited: subprocess.CompletedProcess[str]
    retried: subprocess.CompletedProcess[str]
    report: Path


def _pcr(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", LAUNCHER, *args],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def retried(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Retried]:
    root = tmp_path_factory.mktemp("retry-served")
    (root / "marks").mkdir()
    (root / "flaky.py").write_text(FLAKY, encoding="utf-8")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PCR_"))}
    clean.update({"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull})
    command = shlex.join([sys.executable, str(root / "flaky.py"), str(root / "marks")])
    server = PcrProcess(
        ["local", "serve", "--port", "0", "--vcpus", "2", "--memory", "4096", "-c", command],
        cwd=root, env=clean,
    )  # fmt: skip
    try:
        server.wait_for_stdout("Ctrl-C or SIGTERM")
        env = dict(clean)
        for line in server.stdout_lines:  # what a user pastes into another terminal
            if line.strip().startswith("export "):
                name, _, value = line.strip().removeprefix("export ").partition("=")
                env[name] = shlex.split(value)[0]
        rows = [f'{{"n": {n}, "flaky": {str(n in FLAKY_INPUTS).lower()}}}' for n in range(JOBS)]
        jobs = write_jobs(root / "jobs.jsonl", rows)
        submitted = _pcr(env, root, "submit", str(jobs), "--name", "flaky")
        assert submitted.returncode == 0, submitted.stderr
        (batch_id,) = lines(submitted.stdout)
        waited = _pcr(env, root, "wait", batch_id, "--timeout", "90")
        retried = _pcr(env, root, "retry", batch_id, "--wait", "--timeout", "90")
        report = root / "report.html"
        reported = _pcr(env, root, "report", batch_id, "--output", str(report))
        assert reported.returncode == 0, reported.stderr
        yield Retried(env, batch_id, waited, retried, report)
    finally:
        if server.popen.poll() is None:
            server.send(signal.SIGTERM)
        server.finish()


def test_pcr_retry_works_with_only_the_servers_export_lines(retried: Retried) -> None:
    assert retried.env["PCR_POLL_SECONDS"] == "0.2"
    assert {"PCR_QUEUE", "PCR_BUCKET", "PCR_IMAGE", "AWS_ENDPOINT_URL"} <= set(retried.env)
    assert retried.waited.returncode == 1, retried.waited.stderr  # three failed
    said = retried.retried.stderr
    assert retried.retried.returncode == 0, said
    assert "found 3 failed job(s) from attempt 1: 3 non-zero-exit" in said
    assert "reran 3 job(s) as attempt 2: 3 non-zero-exit" in said
    assert "reruns: 3 succeeded, 0 failed again" in said
    assert "Warning" not in said
    assert "FAILED" not in said  # the old failures are what was found, not news


@pytest.mark.browser
def test_the_report_shows_the_original_failures_and_their_reruns(
    retried: Retried, browser: BrowserContext, tmp_path: Path
) -> None:
    loaded = Loaded(browser, retried.report.read_text(encoding="utf-8"), tmp_path / "r.html")
    page = loaded.page
    assert page.locator("svg.timeline g.bar").count() == JOBS  # one row per job
    reruns = page.locator("svg.timeline g.bar.rerun")
    assert sorted(int(n) for n in reruns.evaluate_all("gs => gs.map(g => g.dataset.first)")) == [
        *FLAKY_INPUTS
    ]
    assert page.locator("svg.timeline g.attempt.earlier").count() == len(FLAKY_INPUTS)
    assert page.locator("[data-key=reruns]").inner_text() == "3"
    assert page.locator("[data-key=jobs]").inner_text() == str(JOBS)
    before = page.locator('#by-failure tr[data-key="non-zero-exit"] td').all_inner_texts()
    assert before[1:] == ["\u2013", "3"]  # no failure now, 3 before the reruns
    rows = page.locator("#reruns tr[data-index]")
    assert rows.count() == len(FLAKY_INPUTS)
    for position, n in enumerate(FLAKY_INPUTS):
        row = rows.nth(position)
        assert row.get_attribute("data-index") == str(n)
        assert "FAILED (non-zero-exit)" in row.inner_text()
        assert "attempt 2: SUCCEEDED" in row.inner_text()
        error = row.locator("p.error-line")
        assert error.inner_text() == f"ValueError: broken input {n}"
        assert error.is_visible()
        assert "botocore" not in row.locator("div.log").inner_text()
    assert page.locator("#failed").inner_text().endswith("No job failed.")
    loaded.screenshot("report-after-retry.png", tmp_path, full_page=True)
    loaded.close()
