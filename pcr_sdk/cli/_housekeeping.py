"""`pcr local ls`, `pcr local rm` and `pcr local reset`: what the local account keeps.

`ls` reads the account's files (a holder may be running); `rm` and `reset` change them and so
need the account to themselves: they refuse while a process holds it.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Annotated, Final

import typer
from rich.markup import escape
from rich.table import Table

from pcr_sdk.cli._local import ENV_LOCAL_DIR, account_directory
from pcr_sdk.cli._maintenance import _confirm
from pcr_sdk.cli._progress import stderr_console
from pcr_sdk.cli._runtime import EXIT_FAILED, EXIT_OK, cli_errors, fail

UNITS: Final = ("B", "KiB", "MiB", "GiB", "TiB")

AccountDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        envvar=ENV_LOCAL_DIR,
        file_okay=False,
        help="The local account's directory (default: the user's state directory).",
        show_default=False,
    ),
]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


def human_size(size: int) -> str:
    """`512 B`, `1.5 KiB`, `20.0 MiB`, ..."""
    value = float(size)
    for unit in UNITS:
        if value < 1024 or unit == UNITS[-1]:
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover - the loop returns


def _when(epoch_ms: int | None) -> str:
    if epoch_ms is None:
        return "-"
    moment = datetime.datetime.fromtimestamp(epoch_ms / 1000, tz=datetime.timezone.utc)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def local_ls(data_dir: AccountDir = None) -> None:
    """List the batches the local account keeps, with their jobs and sizes.

    One JSON line per batch on stdout, a table on stderr. The account keeps every batch
    until `pcr local rm` or `pcr local reset` (AWS forgets finished jobs after a day).
    """
    from pcr_sdk.local import LocalAccount  # noqa: PLC0415 - optional dependency, loaded on use

    console = stderr_console()
    directory = account_directory(data_dir)
    with cli_errors(console):
        account = LocalAccount(directory)
        batches = account.batches()
        table = Table(title=f"local account {escape(str(directory))}", title_justify="left")
        for column in ("batch", "created", "jobs", "by status", "objects", "logs"):
            table.add_column(
                column, justify="left" if column in ("batch", "by status") else "right"
            )
        for batch in batches:
            typer.echo(
                json.dumps(
                    {
                        "batch_id": batch.batch_id,
                        "jobs": batch.jobs,
                        "counts": batch.counts,
                        "created_at": batch.created_at,
                        "s3_bytes": batch.s3_bytes,
                        "log_bytes": batch.log_bytes,
                    },
                    separators=(",", ":"),
                )
            )
            statuses = ", ".join(f"{n} {s.lower()}" for s, n in sorted(batch.counts.items()))
            table.add_row(
                escape(batch.batch_id),
                _when(batch.created_at),
                str(batch.jobs),
                statuses or "-",
                human_size(batch.s3_bytes),
                human_size(batch.log_bytes),
            )
        console.print(table)
        holder = account.holder()
        held = "" if holder is None else f"; held by {holder.program} (process {holder.pid})"
        console.print(
            f"{len(batches)} batch(es), {human_size(account.size())} in all{escape(held)}. "
            "Forget one with: pcr local rm BATCH_ID"
        )
    raise typer.Exit(EXIT_OK)


def local_rm(
    batch_ids: Annotated[
        list[str], typer.Argument(help="The batches to forget.", show_default=False)
    ],
    data_dir: AccountDir = None,
    yes: Yes = False,
) -> None:
    """Forget batches of the local account: their jobs, job definition, objects and logs.

    Needs the account to itself: stop `pcr local serve` (or whatever holds it) first. Exit 1
    if a batch is not kept there.
    """
    from pcr_sdk.local import LocalAccount  # noqa: PLC0415 - optional dependency, loaded on use

    console = stderr_console()
    account = LocalAccount(account_directory(data_dir))
    with cli_errors(console):
        kept = {batch.batch_id: batch for batch in account.batches()}
        unknown = [batch_id for batch_id in batch_ids if batch_id not in kept]
        if unknown:
            fail(f"the local account in {account.path} keeps no batch {', '.join(unknown)}")
        size = sum(kept[batch_id].total_bytes for batch_id in batch_ids)
        question = f"forget {len(batch_ids)} batch(es), {human_size(size)}, in {account.path}?"
        if not _confirm(question, yes=yes):
            fail("nothing forgotten")
        for batch_id in batch_ids:
            account.forget(batch_id)
            console.print(f"forgot batch {escape(batch_id)}")
    raise typer.Exit(EXIT_OK)


def local_reset(data_dir: AccountDir = None, yes: Yes = False) -> None:
    """Forget everything the local account keeps, but its keys (export lines stay valid).

    Needs the account to itself: stop `pcr local serve` (or whatever holds it) first.
    """
    from pcr_sdk.local import LocalAccount  # noqa: PLC0415 - optional dependency, loaded on use

    console = stderr_console()
    account = LocalAccount(account_directory(data_dir))
    with cli_errors(console):
        if not account.path.exists():
            console.print(f"nothing kept in {escape(str(account.path))}")
            raise typer.Exit(EXIT_OK)
        batches = account.batches()
        question = (
            f"forget all {len(batches)} batch(es), {human_size(account.size())}, in {account.path}?"
        )
        if not _confirm(question, yes=yes):
            fail("nothing forgotten", EXIT_FAILED)
        account.reset()
        console.print(f"forgot everything in {escape(str(account.path))} but its keys")
    raise typer.Exit(EXIT_OK)
