"""`pcr retry`: rerun a batch's failed jobs in place (`JobSubmitter.resubmit_failed`).

It says what it found (the failed jobs, by attempt and failure kind), then what it did (or,
with --dry-run, would do), then, with --wait, how the reruns went. The old failures are told
once, as what was found: the progress reports only failures of the reruns, as failed again.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Final

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pcr_sdk import (
    FailureKind,
    JobResult,
    JobStatus,
    JobSubmitter,
    PcrInputError,
    handle_signals,
)
from pcr_sdk.cli import _options as opt
from pcr_sdk.cli._batch import Ending, wait_only
from pcr_sdk.cli._inspect import WaitTimeout, attach_batch
from pcr_sdk.cli._local import DataDir, Local, Target, follow
from pcr_sdk.cli._progress import batch_progress, describe_counts, failure_line, stderr_console
from pcr_sdk.cli._runtime import EXIT_FAILED, EXIT_OK, cli_errors, fail, runtime_of

KINDS: Final = tuple(k for k in FailureKind if k is not FailureKind.DEPENDENCY_FAILED)
"""The kinds `--kind` takes: a job that failed because a dependency failed reruns with it."""
SHOWN_INDEXES: Final = 12
"""Indexes listed per failure kind; more are counted."""


def _kinds(values: Sequence[str] | None) -> frozenset[FailureKind] | None:
    if not values:
        return None
    try:
        kinds = frozenset(FailureKind(value) for value in values)
    except ValueError as err:
        raise PcrInputError(f"{err}; the kinds: {', '.join(k.value for k in KINDS)}") from None
    if FailureKind.DEPENDENCY_FAILED in kinds:
        raise PcrInputError(
            "--kind may not be dependency-failed: such jobs rerun with the dependencies they "
            "failed on; name the kinds of those failures instead"
        )
    return kinds


class _FailureWording:
    """How the command words failed jobs: the old failures (what it found) not at all, a
    rerun that fails as failing again."""

    def __init__(self) -> None:
        self.old: set[str] = set()
        self.attempts: dict[str, int] = {}
        """Job id -> its attempt, for the reruns."""

    def __call__(self, result: JobResult) -> str | None:
        if result.job_id in self.old:
            return None
        attempt = self.attempts.get(result.job_id)
        if attempt is None:
            return failure_line(result)
        reason = result.status_reason or "no reason given"
        code = "" if result.exit_code is None else f", exit code {result.exit_code}"
        return (
            f"[red]FAILED again[/] job {result.index} (attempt {attempt}, "
            f"{escape(result.job_id)}): {escape(reason)}{code}"
        )


def _attempts_text(attempts: Iterable[int]) -> str:
    found = sorted(set(attempts))
    if len(found) == 1:
        return f"attempt {found[0]}"
    return "attempts " + ", ".join(str(a) for a in found[:-1]) + f" and {found[-1]}"


def _by_kind(results: Iterable[JobResult]) -> dict[str, list[int]]:
    """Failure kind -> the indexes that failed so, kinds in `FailureKind`'s order."""
    found: dict[str, list[int]] = {}
    for result in sorted(results, key=lambda r: r.index):
        kind = result.failure.value if result.failure is not None else result.status.value
        found.setdefault(kind, []).append(result.index)
    order = {k.value: rank for rank, k in enumerate(FailureKind)}
    return {k: found[k] for k in sorted(found, key=lambda k: (order.get(k, len(order)), k))}


def _kinds_text(by_kind: Mapping[str, Sequence[int]]) -> str:
    return ", ".join(f"{len(indexes)} {kind}" for kind, indexes in by_kind.items())


def _kinds_table(title: str, by_kind: Mapping[str, Sequence[int]]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("failure kind")
    table.add_column("jobs", justify="right")
    table.add_column("indexes")
    for kind, indexes in by_kind.items():
        shown = ", ".join(str(i) for i in indexes[:SHOWN_INDEXES])
        more = len(indexes) - SHOWN_INDEXES
        table.add_row(kind, str(len(indexes)), shown + (f" and {more} more" if more > 0 else ""))
    return table


def _found(
    console: Console, submitter: JobSubmitter, before: Sequence[JobResult]
) -> list[JobResult]:
    """Print what the batch holds now: its failed jobs, by attempt and kind; return them."""
    failed = [r for r in before if r.failure is not None]
    attempt = {job.job_id: job.attempt for job in submitter.jobs}
    unfinished = sum(1 for r in before if not r.finished)
    batch = escape(submitter.get_batch_id())
    if not failed:
        console.print(f"batch {batch}: {len(before)} job(s), none failed")
    else:
        console.print(
            f"batch {batch}: {len(before)} job(s); found {len(failed)} failed job(s) from "
            f"{_attempts_text(attempt[r.job_id] for r in failed)}: "
            f"{_kinds_text(_by_kind(failed))}"
        )
    if unfinished:
        console.print(f"{unfinished} job(s) not finished yet are left alone")
    return failed


def _left_alone(
    console: Console, failed: Sequence[JobResult], planned: Sequence[JobResult], asked: bool
) -> None:
    """The failed jobs a rerun leaves as they are, and why."""
    rerun = {r.job_id for r in planned}
    kept = [r for r in failed if r.job_id not in rerun]
    if not kept:
        return
    why = (
        "their kind was not asked for (--kind), or a dependency's was not"
        if asked
        else "they depend on a failed job that is not rerun"
    )
    console.print(f"not rerun: {len(kept)} failed job(s) ({_kinds_text(_by_kind(kept))}): {why}")


def _outcome(
    console: Console, submitter: JobSubmitter, new_ids: Sequence[str]
) -> tuple[dict[str, int], int]:
    """Print how the reruns went and the batch's counts; (counts by status, exit code)."""
    results = submitter.get_results()
    new = set(new_ids)
    reruns = Counter(r.status for r in results if r.job_id in new)
    succeeded = reruns.get(JobStatus.SUCCEEDED, 0)
    again = reruns.get(JobStatus.FAILED, 0) + reruns.get(JobStatus.EXPIRED, 0)
    others = len(new) - succeeded - again
    parts = [f"{succeeded} succeeded", f"{again} failed again"]
    if others:
        parts.append(f"{others} unfinished")
    console.print(f"reruns: {', '.join(parts)}")
    counts = Counter(r.status for r in results)
    console.print(f"batch: {len(results)} job(s), {describe_counts(counts)}")
    code = EXIT_OK if counts.get(JobStatus.SUCCEEDED, 0) == len(results) else EXIT_FAILED
    return {s.value: counts[s] for s in JobStatus if counts.get(s)}, code


def retry(
    ctx: typer.Context,
    batch_id: opt.BatchIdArg,
    queue: opt.OptionalQueue = None,
    bucket: opt.OptionalBucket = None,
    kind: Annotated[
        list[str] | None,
        typer.Option(
            "--kind",
            "-k",
            help=(f"Only failures of this kind (repeatable): {', '.join(k.value for k in KINDS)}."),
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Only show what would rerun, by failure kind."),
    ] = False,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the reruns, then report.")] = False,
    timeout: WaitTimeout = None,
    poll_seconds: opt.RunPollSeconds = None,
    region: opt.Region = None,
    local: Local = False,
    data_dir: DataDir = None,
    break_lease: Annotated[
        bool,
        typer.Option(
            "--break-lease",
            help="If another process holds the batch's rerun lease (one that died, say), show "
            "it and ask whether to break it, then rerun.",
        ),
    ] = False,
) -> None:
    """Rerun a batch's failed jobs at their indexes (one JSON line with the new ids on stdout).

    First says what it found (the failed jobs, by attempt and failure kind), then what it
    reran, then with --wait how the reruns went. Jobs that failed because a dependency failed
    rerun with it. A closed batch reopens: end it with --wait here, or with `pcr wait` later.
    With --local the batch is one of the local account: the reruns go to the process holding
    it, or run here with the settings stored in the account (command, working directory,
    environment), waited for. One process reruns a batch at a time: this one takes the batch's
    rerun lease, or fails naming who holds it and until when (a live holder renews it;
    --break-lease breaks a stale one after asking). Exit 0 when every job of the batch succeeded
    (with --wait) or the reruns went out, 1 when some failed again (or the lease is held), 2 on
    bad input, 124 when --timeout ran out.
    """
    runtime = runtime_of(ctx)
    console = stderr_console()
    with (
        cli_errors(console),
        handle_signals(),
        follow(ctx, runtime, console, local=local, data_dir=data_dir, queue=queue,
               bucket=bucket, region=region, need_bucket=True, run_jobs=True) as target,
    ):  # fmt: skip
        kinds = _kinds(kind)
        wording = _FailureWording()
        progress = batch_progress(console, clock=runtime.clock, failure=wording)
        default_poll = opt.LOCAL_POLL_SECONDS if target.local else opt.AWS_POLL_SECONDS
        submitter = attach_batch(
            runtime, batch_id, queue=target.queue, bucket=str(target.bucket),
            clients=target.clients,
            poll_seconds=default_poll if poll_seconds is None else poll_seconds,
            progress=progress, not_found=target.not_found,
        )  # fmt: skip
        if break_lease:  # first: the holder's reruns may be what is left unfinished
            _offer_to_break(console, submitter)
        before = submitter.get_results()
        failed = _found(console, submitter, before)
        wording.old = {r.job_id for r in failed}
        planned = submitter.plan_rerun(kinds=kinds)
        _left_alone(console, failed, planned, asked=kinds is not None)
        plan = _by_kind(planned)
        if dry_run:
            _dry_run(console, submitter, planned, plan)
        if not planned:
            console.print("nothing to rerun")
            _line({"batch_id": submitter.get_batch_id(), "resubmitted": []})
            raise typer.Exit(EXIT_OK)
        new_ids = submitter.resubmit_failed(kinds=kinds)
        attempts = {job.job_id: job.attempt for job in submitter.jobs}
        wording.attempts = {job_id: attempts.get(job_id, 0) for job_id in new_ids}
        console.print(
            f"reran {len(new_ids)} job(s) as {_attempts_text(wording.attempts.values())}: "
            f"{_kinds_text(plan)}"
        )
        line: dict[str, object] = {
            "batch_id": submitter.get_batch_id(),
            "resubmitted": new_ids,
            "kinds": {k: len(v) for k, v in plan.items()},
        }
        if not wait and target.runs_here:
            console.print(
                "no process holds the local account: the reruns run here, and this waits for "
                "them (with `pcr local serve` running, they run there)"
            )
            wait = True
        resume = _resume_command(batch_id, target, data_dir)
        if not wait:
            console.print(f"the reruns are on their way; follow them with: {resume}")
            _line(line)
            raise typer.Exit(EXIT_OK)
        ending = wait_only(submitter, progress, timeout=timeout)
        code = _ended(console, ending, resume)
        if ending.signum is None:
            line["counts"], outcome = _outcome(console, submitter, new_ids)
        _line(line)
    raise typer.Exit(outcome if code is None else code)


def _offer_to_break(console: Console, submitter: JobSubmitter) -> None:
    """Show the batch's rerun lease and break it if the user says so; exit 1 if not."""
    lease = submitter.rerun_lease()
    if lease is None or not lease.held:
        console.print("the rerun lease is not held: nothing to break")
        return
    until = f"{lease.expires_at:%Y-%m-%d %H:%M:%S} UTC (S3's clock)"
    state = (
        f"it ran out at {until}: its holder stopped renewing it"
        if lease.expired
        else f"it runs until {until} and is still renewed: its holder may be alive"
    )
    console.print(
        f"the rerun lease of {escape(submitter.get_batch_id())} is held by "
        f"{escape(lease.holder)}; {state}"
    )
    if not typer.confirm("break it?", default=False, err=True):
        fail("the rerun lease was not broken")
    if not submitter.break_rerun_lease(lease):
        fail("the rerun lease changed while you were asked (renewed or taken): not broken")
    console.print("broke the rerun lease")


def _dry_run(
    console: Console,
    submitter: JobSubmitter,
    planned: Sequence[JobResult],
    plan: Mapping[str, Sequence[int]],
) -> None:
    """Print what a rerun would do, and the JSON line; end the command."""
    if planned:
        console.print(_kinds_table(f"would rerun {len(planned)} job(s), by failure kind", plan))
    console.print("nothing changed (--dry-run)")
    _line({
        "batch_id": submitter.get_batch_id(),
        "dry_run": True,
        "would_rerun": [r.job_id for r in planned],
        "kinds": {k: len(v) for k, v in plan.items()},
    })  # fmt: skip
    raise typer.Exit(EXIT_OK)


def _resume_command(batch_id: str, target: Target, data_dir: Path | None) -> str:
    """The `pcr wait` that follows the reruns from another shell (escaped for the console)."""
    if target.local:
        where = "--local" + ("" if data_dir is None else f" --data-dir {escape(str(data_dir))}")
    else:
        where = f"--queue {escape(target.queue)} --bucket {escape(str(target.bucket))}"
    return f"pcr wait {escape(batch_id)} {where}"


def _ended(console: Console, ending: Ending, resume: str) -> int | None:
    """What a signal or --timeout did to the wait, and the exit code it forces."""
    if ending.signum is not None:
        console.print(
            f"detached ({ending.signal_name}): the reruns keep running; resume with: {resume}"
        )
    elif ending.timeout is not None:
        console.print(
            f"gave up waiting (--timeout): {len(ending.timeout.unfinished)} job(s) keep "
            f"running; resume with: {resume}"
        )
    return ending.code


def _line(data: Mapping[str, object]) -> None:
    typer.echo(json.dumps(data, separators=(",", ":")))
