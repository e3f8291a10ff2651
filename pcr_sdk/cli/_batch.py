"""What `run`, `submit`, `wait` and `outputs` share: JSONL input, submission, outputs, summary."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.markup import escape

from pcr_sdk._private.aws import JobStatus
from pcr_sdk._private.clients import AwsClients
from pcr_sdk._private.errors import PcrError, PcrInputError
from pcr_sdk._private.facade import JobSubmitter
from pcr_sdk._private.logs import BATCH_LOG_GROUP, LogReader
from pcr_sdk._private.models import JobResult, JobSpec
from pcr_sdk.cli._progress import RichProgress, failures_table, key_value_table
from pcr_sdk.cli._runtime import EXIT_FAILED, EXIT_OK, Runtime

STDIN: Final = "-"
MAX_FAILURE_ROWS: Final = 20
LOG_GROUP: Final = BATCH_LOG_GROUP
LOG_TAIL_JOBS: Final = 3
LOG_TAIL_LINES: Final = 5


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def parse_jobs(text: str, *, source: str) -> list[Any]:
    """One JSON input per non-blank line; errors name `source` and the line number."""
    inputs: list[Any] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line, parse_constant=_refuse_constant)
        except ValueError as err:  # JSONDecodeError is a ValueError, and so is NaN
            raise PcrInputError(f"{source}:{number}: not valid JSON: {err}") from err
        try:
            JobSpec.of(data)
        except PcrInputError as err:
            raise PcrInputError(f"{source}:{number}: {err}") from err
        inputs.append(data)
    if not inputs:
        raise PcrInputError(f"{source}: no jobs (the file has no non-blank line)")
    return inputs


def read_jobs(path: Path) -> list[Any]:
    """The inputs of a JSONL file, or of stdin for `-`."""
    if str(path) == STDIN:
        return parse_jobs(sys.stdin.read(), source="<stdin>")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise PcrInputError(f"{path}: not UTF-8 text ({err.reason})") from err
    except OSError as err:
        raise PcrInputError(f"{path}: cannot read: {err.strerror or err}") from err
    return parse_jobs(text, source=str(path))


@dataclass(frozen=True)
class BatchSettings:
    """A new batch's name, where it runs, and what each job gets."""

    name: str
    queue: str
    bucket: str
    image: str
    memory_mib: int = 1024
    vcpus: int = 1
    gpus: int = 0
    timeout_hours: float = 20
    poll_seconds: float = 10
    throttle_ms: float = 200


def new_submitter(
    settings: BatchSettings, clients: AwsClients, progress: RichProgress, runtime: Runtime
) -> JobSubmitter:
    """A `JobSubmitter` for `settings` (registers the job definition)."""
    return JobSubmitter(
        settings.name,
        settings.queue,
        settings.image,
        settings.bucket,
        memory_in_mb=settings.memory_mib,
        timeout_in_hours=settings.timeout_hours,
        polling_interval_seconds=settings.poll_seconds,
        request_throttling_milliseconds=settings.throttle_ms,
        vcpus=settings.vcpus,
        gpus=settings.gpus,
        clients=clients,
        progress=progress,
        clock=runtime.clock,
        sleep=runtime.sleep,
    )


def submit_all(submitter: JobSubmitter, inputs: Sequence[Any], progress: RichProgress) -> None:
    """Submit one job per input, in order."""
    progress.begin_submit(len(inputs))
    for data in inputs:
        submitter.submit_job(data)
        progress.submitted()


def output_line(text: str | None) -> str | None:
    """An output as one compact JSON line; None when missing or not JSON."""
    if text is None:
        return None
    try:
        return json.dumps(
            json.loads(text), separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except ValueError:
        return None


def emit_outputs(submitter: JobSubmitter, console: Console) -> int:
    """Print every job's output on stdout in job order (`null` where there is none).

    Returns how many jobs had no readable output.
    """
    missing = 0
    for job, text in zip(submitter.jobs, submitter.get_all_outputs(), strict=True):
        line = output_line(text)
        if line is None:
            missing += 1
            if text is not None:
                console.print(f"[yellow]warning[/]: output of job {job.index} is not JSON")
        typer.echo("null" if line is None else line)
    return missing


def wait_for(submitter: JobSubmitter, progress: RichProgress, timeout: float | None) -> None:
    """Wait until every job finished (the caller has the progress display running)."""
    progress.begin_wait(len(submitter.jobs))
    submitter.wait_until_jobs_finished(timeout=timeout)


def report(submitter: JobSubmitter, console: Console, *, seconds: float) -> int:
    """Print the outputs (stdout) and a summary (stderr); the exit code: 0 if all succeeded."""
    results = [submitter.get_result(job.job_id) for job in submitter.jobs]
    missing = emit_outputs(submitter, console)
    print_summary(
        console, submitter.get_batch_id(), results, missing_outputs=missing, seconds=seconds
    )
    failed = [r for r in results if r.status is JobStatus.FAILED and r.log_stream_name]
    for result in failed[:LOG_TAIL_JOBS]:
        print_log_tail(console, submitter.clients, result)
    succeeded = all(r.status is JobStatus.SUCCEEDED for r in results)
    return EXIT_OK if succeeded and missing == 0 else EXIT_FAILED


def print_summary(
    console: Console,
    batch_id: str,
    results: Sequence[JobResult],
    *,
    missing_outputs: int,
    seconds: float,
) -> None:
    """The summary table (and the failed jobs, if any) on stderr."""
    failed = [r for r in results if r.status is JobStatus.FAILED]
    succeeded = sum(1 for r in results if r.status is JobStatus.SUCCEEDED)
    rows: list[tuple[str, object]] = [
        ("batch", batch_id),
        ("jobs", len(results)),
        ("succeeded", succeeded),
        ("failed", len(failed)),
    ]
    unfinished = len(results) - succeeded - len(failed)
    if unfinished:
        rows.append(("unfinished", unfinished))
    rows += [("no output", missing_outputs), ("wall time", format_seconds(seconds))]
    if failed:
        table = failures_table(failed[:MAX_FAILURE_ROWS])
        if len(failed) > MAX_FAILURE_ROWS:
            table.caption = f"and {len(failed) - MAX_FAILURE_ROWS} more"
        console.print(table)
    console.print(key_value_table("summary", rows))


def log_tail(clients: AwsClients, stream: str, lines: int) -> list[str]:
    """The last `lines` lines of a job's log stream; empty if they cannot be read."""
    try:
        messages = LogReader(clients.logs).tail(stream, lines)
    except (PcrError, BotoCoreError, ClientError):
        return []  # a hint only: the job's failure is reported either way
    return [message.rstrip("\n") for message in messages]


def print_log_tail(console: Console, clients: AwsClients, result: JobResult) -> None:
    """A failed job's last log lines, to say why it failed."""
    if not result.log_stream_name:
        return
    lines = log_tail(clients, result.log_stream_name, LOG_TAIL_LINES)
    if lines:
        console.print(
            f"[bold]last lines of failed job {result.index}[/] ({escape(result.job_id)}):"
        )
        for line in lines:
            console.print(f"  [dim]{escape(line)}[/]", overflow="fold")


def format_seconds(seconds: float) -> str:
    """`12.3 s`, or `4 min 05 s` from a minute on."""
    if not math.isfinite(seconds) or seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"
