"""What `run`, `submit`, `wait`, `outputs` and `demo` share: JSONL input, driving a batch
(submission, waiting, signals, timeouts), outputs, the summary and failed jobs' logs."""

from __future__ import annotations

import json
import math
import signal
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import typer
from rich.console import Console
from rich.markup import escape

from pcr_sdk import (
    AwsClients,
    FailureKind,
    InterruptedBySignal,
    JobResult,
    JobStatus,
    JobSubmitter,
    PcrError,
    PcrInputError,
    WaitTimeoutError,
    handle_signals,
)
from pcr_sdk.advanced import JobSpec, LogReader
from pcr_sdk.cli._escape import terminal_safe
from pcr_sdk.cli._progress import BatchProgress, failures_table, key_value_table
from pcr_sdk.cli._runtime import EXIT_FAILED, EXIT_OK, EXIT_TIMEOUT

STDIN: Final = "-"
BOM: Final = "\ufeff"
MAX_FAILURE_ROWS: Final = 20
LOG_TAIL_JOBS: Final = 3
LOG_TAIL_LINES: Final = 5
LOG_FILE_LINES: Final = 1000
"""Lines kept per failed job in the failed-logs file of a local run."""


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def parse_jobs(text: str, *, source: str) -> list[Any]:
    """One JSON input per line; errors name `source` and the line number.

    Every line is a job, so that output line k belongs to input line k: a blank line is an
    error (a final newline is not a blank line). A leading UTF-8 byte order mark is dropped.
    """
    text = text.removeprefix(BOM)
    rows = text.split("\n")
    if rows[-1] == "":
        rows.pop()  # the final newline ends the last line
    if not rows:
        raise PcrInputError(f"{source}: no jobs (the file is empty)")
    inputs: list[Any] = []
    for number, row in enumerate(rows, start=1):
        line = row.removesuffix("\r")
        if not line.strip():
            raise PcrInputError(
                f"{source}:{number}: blank line (every line must be one job's JSON input, so "
                "that output line k belongs to input line k)"
            )
        try:
            data = json.loads(line, parse_constant=_refuse_constant)
        except ValueError as err:  # JSONDecodeError is a ValueError, and so is NaN
            raise PcrInputError(f"{source}:{number}: not valid JSON: {err}") from err
        try:
            JobSpec.of(data)
        except PcrInputError as err:
            raise PcrInputError(f"{source}:{number}: {err}") from err
        inputs.append(data)
    return inputs


def read_jobs(path: Path) -> list[Any]:
    """The inputs of a JSONL file, or of stdin for `-`."""
    if str(path) == STDIN:
        buffer = getattr(sys.stdin, "buffer", None)
        try:
            text = buffer.read().decode("utf-8") if buffer is not None else sys.stdin.read()
        except UnicodeDecodeError as err:
            raise PcrInputError(f"<stdin>: not UTF-8 text ({err.reason})") from err
        return parse_jobs(text, source="<stdin>")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise PcrInputError(f"{path}: not UTF-8 text ({err.reason})") from err
    except OSError as err:
        raise PcrInputError(f"{path}: cannot read: {err.strerror or err}") from err
    return parse_jobs(text, source=str(path))


# -- driving a batch ----------------------------------------------------------------------


@dataclass(frozen=True)
class Ending:
    """How submitting and waiting ended: all finished, a signal, or `--timeout`."""

    signum: int | None = None
    timeout: WaitTimeoutError | None = None

    @property
    def code(self) -> int | None:
        """The exit code this ending forces (None: the jobs' outcome decides)."""
        if self.signum is not None:
            return 128 + self.signum
        if self.timeout is not None:
            return EXIT_TIMEOUT
        return None

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name if self.signum is not None else ""


def drive(
    submitter: JobSubmitter,
    inputs: Sequence[Any],
    progress: BatchProgress,
    *,
    array: bool,
    timeout: float | None,
    clock: Callable[[], float],
    owns: bool = True,
    on_result: Callable[[JobResult], None] | None = None,
) -> Ending:
    """Submit every input (concurrently, or as one array) and wait for the jobs.

    With `on_result`, each job's result (with its output) is handed over as soon as a poll
    sees the job finish (`as_completed`). A signal (Ctrl-C, SIGTERM, SIGHUP) stops submitting
    and, when the caller `owns` the batch, cancels it; `--timeout` ends the wait. Neither is
    an error here: the caller prints what is known and exits with the ending's code.
    """
    started = clock()
    try:
        with handle_signals(submitter, owns=owns), progress:
            progress.begin_submit(len(inputs), lambda: len(submitter.jobs))
            submitter.submit_jobs(inputs, array=array)
            progress.end_submit(len(submitter.jobs), clock() - started)
            progress.begin_wait(len(submitter.jobs))
            if on_result is None:
                submitter.wait_until_jobs_finished(timeout=timeout)
            else:
                for result in submitter.as_completed(timeout=timeout):
                    on_result(result)
    except InterruptedBySignal as interrupt:
        return Ending(signum=interrupt.signum)
    except KeyboardInterrupt:
        return Ending(signum=signal.SIGINT)
    except WaitTimeoutError as err:
        return Ending(timeout=err)
    return Ending()


def wait_only(submitter: JobSubmitter, progress: BatchProgress, *, timeout: float | None) -> Ending:
    """Wait for an attached batch without owning it: a signal detaches, the jobs run on."""
    try:
        with handle_signals(submitter, owns=False), progress:
            progress.begin_wait(len(submitter.jobs))
            submitter.wait_until_jobs_finished(timeout=timeout)
    except InterruptedBySignal as interrupt:
        return Ending(signum=interrupt.signum)
    except KeyboardInterrupt:
        return Ending(signum=signal.SIGINT)
    except WaitTimeoutError as err:
        return Ending(timeout=err)
    return Ending()


# -- outputs ------------------------------------------------------------------------------


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


def stream_line(result: JobResult) -> str:
    """`{"line": k, "output": ...}` for job `result` (input line k is job k - 1), one line."""
    output = output_line(result.output)
    parsed = None if output is None else json.loads(output)
    return json.dumps(
        {"line": result.index + 1, "output": parsed}, separators=(",", ":"), ensure_ascii=False
    )


def emit_outputs(submitter: JobSubmitter, console: Console, *, count: int | None = None) -> int:
    """Print outputs on stdout, one line each, `null` where there is none.

    With `count`, one line per index 0..count-1 (input line k is job k, submitted or not);
    else one per job in index order. Returns how many lines are `null`.
    """
    jobs = submitter.jobs
    texts = dict(zip((job.index for job in jobs), submitter.get_all_outputs(), strict=True))
    indexes = range(count) if count is not None else [job.index for job in jobs]
    missing = 0
    for index in indexes:
        text = texts.get(index)
        line = output_line(text)
        if line is None:
            missing += 1
            if text is not None:
                console.print(f"[yellow]warning[/]: output of job {index} is not JSON")
        typer.echo("null" if line is None else line)
    return missing


# -- the summary and the failed jobs' logs ------------------------------------------------


def print_summary(
    console: Console,
    results: Sequence[JobResult],
    *,
    missing_outputs: int,
    seconds: float,
    not_submitted: int = 0,
) -> None:
    """The failed jobs (if any) and the summary table, on stderr."""
    failed = [r for r in results if r.status is JobStatus.FAILED]
    succeeded = sum(1 for r in results if r.status is JobStatus.SUCCEEDED)
    expired = sum(1 for r in results if r.status is JobStatus.EXPIRED)
    rows: list[tuple[str, object]] = [
        ("jobs", len(results) + not_submitted),
        ("succeeded", succeeded),
        ("failed", len(failed)),
    ]
    if expired:
        rows.append(("expired", expired))
    unfinished = len(results) - succeeded - len(failed) - expired
    if unfinished:
        rows.append(("unfinished", unfinished))
    if not_submitted:
        rows.append(("not submitted", not_submitted))
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
    except PcrError:
        return []  # a hint only: the job's failure is reported either way
    return [message.rstrip("\n") for message in messages]


def print_log_tails(console: Console, clients: AwsClients, failed: Sequence[JobResult]) -> None:
    """The last lines of the first failed jobs, to say why they failed."""
    for result in failed[:LOG_TAIL_JOBS]:
        if not result.log_stream_name:
            continue
        lines = log_tail(clients, result.log_stream_name, LOG_TAIL_LINES)
        if lines:
            console.print(
                f"[bold]last lines of failed job {result.index}[/] ({escape(result.job_id)}):"
            )
            for line in lines:
                console.print(f"  [dim]{escape(terminal_safe(line))}[/]")


def failed_logs_file(batch_id: str) -> Path:
    """Where a local run keeps every failed job's log (the embedded backend's logs go with it)."""
    return Path(tempfile.gettempdir()) / f"{batch_id}.failed-logs.txt"


def save_failed_logs(path: Path, clients: AwsClients, failed: Sequence[JobResult]) -> int:
    """Write each failed job's log (its last LOG_FILE_LINES lines) to `path`; lines written."""
    written = 0
    with path.open("w", encoding="utf-8") as out:
        for result in failed:
            code = "" if result.exit_code is None else f", exit code {result.exit_code}"
            reason = terminal_safe(result.status_reason or "no reason given")
            out.write(f"=== job {result.index} ({result.job_id}): {reason}{code}\n")
            stream = result.log_stream_name
            lines = log_tail(clients, stream, LOG_FILE_LINES) if stream else []
            for line in lines or ["(no log)"]:
                out.write(f"{terminal_safe(line)}\n")  # read with cat, in a terminal
                written += 1
    return written


def report_failures(
    console: Console,
    submitter: JobSubmitter,
    failed: Sequence[JobResult],
    *,
    local: bool,
    stopped: bool = False,
) -> None:
    """Log tails of the first failed jobs; locally every failed job's log goes to a file.

    `stopped`: the run was interrupted or timed out, so the jobs it terminated itself get
    no tail on stderr (their logs only say they were running); the file has them all.
    """
    if not failed:
        return
    own = (FailureKind.TERMINATED, FailureKind.CANCELLED)
    print_log_tails(
        console, submitter.clients, [r for r in failed if not (stopped and r.failure in own)]
    )
    if local:
        path = failed_logs_file(submitter.get_batch_id())
        try:
            save_failed_logs(path, submitter.clients, failed)
        except OSError as err:
            console.print(f"[yellow]warning[/]: could not write {escape(str(path))}: {err}")
        else:
            console.print(f"the logs of all {len(failed)} failed job(s) are in {escape(str(path))}")
    elif len(failed) > LOG_TAIL_JOBS:
        console.print("more with: pcr logs JOB_ID --tail 50")


def exit_code(results: Sequence[JobResult], missing: int, ending: Ending) -> int:
    """The ending's code, else 0 when every job succeeded with an output, else 1."""
    if ending.code is not None:
        return ending.code
    succeeded = all(r.status is JobStatus.SUCCEEDED for r in results)
    return EXIT_OK if succeeded and missing == 0 else EXIT_FAILED


def conclude(
    submitter: JobSubmitter,
    console: Console,
    ending: Ending,
    *,
    seconds: float,
    count: int | None,
    local: bool,
    streamed: bool = False,
) -> int:
    """Print the outputs (stdout; not again when they were `streamed`), the summary and the
    failures (stderr); the exit code."""
    results = submitter.get_results()
    if streamed:
        missing = sum(r.status is not JobStatus.SUCCEEDED for r in results)
    else:
        missing = emit_outputs(submitter, console, count=count)
    not_submitted = 0 if count is None else max(0, count - len(results))
    print_summary(
        console, results, missing_outputs=missing, seconds=seconds, not_submitted=not_submitted
    )
    failed = [r for r in results if r.status is JobStatus.FAILED]
    report_failures(console, submitter, failed, local=local, stopped=ending.code is not None)
    return exit_code(results, missing, ending)


def format_seconds(seconds: float) -> str:
    """`12.3 s`, or `4 min 05 s` from a minute on."""
    if not math.isfinite(seconds) or seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"
