"""The `pcr` typer application: every command registered in one place."""

from __future__ import annotations

from typing import Annotated

import typer

from pcr_sdk.cli._demo import demo
from pcr_sdk.cli._housekeeping import local_ls, local_reset, local_rm
from pcr_sdk.cli._infra import iam_policy, infra_app
from pcr_sdk.cli._inspect import cancel, logs, outputs, status, wait
from pcr_sdk.cli._maintenance import cleanup, stop_runnable
from pcr_sdk.cli._report import report
from pcr_sdk.cli._retry import retry
from pcr_sdk.cli._serve import local_app
from pcr_sdk.cli._submit import run, submit

app = typer.Typer(
    name="pcr",
    help=(
        "Fan out containerized jobs on AWS Batch, JSON in and out through S3, "
        "or run the same batch locally. Try: pcr demo"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from pcr_sdk import __version__  # noqa: PLC0415 - only needed for --version

        typer.echo(f"pcr-sdk {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Fan out containerized jobs on AWS Batch, or run the same batch locally."""


app.command(rich_help_panel="Run a batch")(demo)
app.command(rich_help_panel="Run a batch")(run)
app.command(rich_help_panel="Run a batch")(submit)
app.command(rich_help_panel="Follow a batch")(status)
app.command(rich_help_panel="Follow a batch")(wait)
app.command(rich_help_panel="Follow a batch")(outputs)
app.command(rich_help_panel="Follow a batch")(logs)
app.command(rich_help_panel="Follow a batch")(cancel)
app.command(rich_help_panel="Follow a batch")(report)
app.command(rich_help_panel="Follow a batch")(retry)
app.command(rich_help_panel="Maintenance")(cleanup)
app.command("stop-runnable", rich_help_panel="Maintenance")(stop_runnable)
local_app.command("ls")(local_ls)
local_app.command("rm")(local_rm)
local_app.command("reset")(local_reset)
app.add_typer(local_app, rich_help_panel="Run a batch")
app.add_typer(infra_app, rich_help_panel="Infrastructure")
app.command("iam-policy", rich_help_panel="Infrastructure")(iam_policy)


def main() -> None:
    """Run the `pcr` command line."""
    app()
