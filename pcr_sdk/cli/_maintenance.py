"""`pcr cleanup` and `pcr stop-runnable`: the seed's maintenance scripts, scoped to pcr-sdk.

The originals deregistered every ACTIVE job definition in the account and terminated every
RUNNABLE job in a queue. These touch only what pcr-sdk created (recognised by its tags), list it
first, and ask before changing anything unless --yes is given.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Final

import typer
from rich.markup import escape
from rich.table import Table

from pcr_sdk._private.aws import (
    DESCRIBE_JOBS_MAX_IDS,
    MANAGED_BY_VALUE,
    TAG_BATCH_ID,
    TAG_INDEX,
    TAG_MANAGED_BY,
)
from pcr_sdk._private.errors import aws_call
from pcr_sdk.cli import _options as opt
from pcr_sdk.cli._progress import stderr_console
from pcr_sdk.cli._runtime import EXIT_FAILED, EXIT_OK, cli_errors, fail, runtime_of

if TYPE_CHECKING:
    from mypy_boto3_batch import BatchClient
    from mypy_boto3_batch.literals import JobStatusType
    from mypy_boto3_batch.type_defs import JobDefinitionTypeDef, JobDetailTypeDef

UNFINISHED: Final[tuple[JobStatusType, ...]] = (
    "SUBMITTED",
    "PENDING",
    "RUNNABLE",
    "STARTING",
    "RUNNING",
)
STOP_REASON: Final = "stopped with pcr stop-runnable"


def _confirm(question: str, *, yes: bool) -> bool:
    """Ask on stderr, read the answer from stdin (stdout stays machine-readable); default no."""
    if yes:
        return True
    typer.echo(f"{question} [y/N]: ", nl=False, err=True)
    answer = sys.stdin.readline()
    if not answer:
        fail("no answer on stdin; pass --yes to proceed without asking")
    return answer.strip().lower() in ("y", "yes")


def pcr_definitions(batch: BatchClient) -> list[JobDefinitionTypeDef]:
    """Every ACTIVE job definition tagged as pcr-sdk's, and no other."""
    found: list[JobDefinitionTypeDef] = []
    paginator = batch.get_paginator("describe_job_definitions")
    with aws_call("DescribeJobDefinitions"):
        for page in paginator.paginate(status="ACTIVE"):
            found.extend(
                d
                for d in page["jobDefinitions"]
                if d.get("status") == "ACTIVE"
                and d.get("tags", {}).get(TAG_MANAGED_BY) == MANAGED_BY_VALUE
            )
    return sorted(found, key=lambda d: (d["jobDefinitionName"], d["revision"]))


def names_in_use(batch: BatchClient) -> set[str]:
    """Names of the jobs not yet finished in any queue (a pcr-sdk job is named after its batch)."""
    names: set[str] = set()
    queues = batch.get_paginator("describe_job_queues")
    jobs = batch.get_paginator("list_jobs")
    with aws_call("DescribeJobQueues"):
        queue_names = [q["jobQueueName"] for page in queues.paginate() for q in page["jobQueues"]]
    for queue in queue_names:
        for status in UNFINISHED:
            with aws_call("ListJobs", job_queue=queue):
                for page in jobs.paginate(jobQueue=queue, jobStatus=status):
                    names.update(s["jobName"] for s in page["jobSummaryList"])
    return names


def cleanup(
    ctx: typer.Context,
    region: opt.Region = None,
    yes: opt.Yes = False,
    dry_run: opt.DryRun = False,
    include_in_use: Annotated[
        bool,
        typer.Option(
            "--include-in-use",
            help="Also deregister definitions whose batch still has unfinished jobs.",
        ),
    ] = False,
) -> None:
    """Deregister pcr-sdk's leftover job definitions (tag pcr:managed-by=pcr-sdk), no other.

    Definitions of batches that still have unfinished jobs in any queue ("in use") are kept
    unless --include-in-use.
    Lists them first and asks unless --yes. Prints each deregistered ARN on stdout.
    """
    runtime = runtime_of(ctx)
    console = stderr_console()
    with cli_errors(console):
        batch = runtime.aws_clients(region).batch
        definitions = pcr_definitions(batch)
        if not definitions:
            console.print("no ACTIVE pcr-sdk job definitions; nothing to do")
            raise typer.Exit(EXIT_OK)
        in_use = set() if include_in_use else names_in_use(batch)
        targets = [d for d in definitions if d["jobDefinitionName"] not in in_use]
        table = Table(title="ACTIVE pcr-sdk job definitions", title_justify="left")
        table.add_column("name", overflow="fold")
        table.add_column("revision", justify="right")
        table.add_column("image", overflow="ellipsis")
        table.add_column("action")
        for d in definitions:
            keep = d["jobDefinitionName"] in in_use
            table.add_row(
                escape(d["jobDefinitionName"]),
                str(d["revision"]),
                escape(d.get("containerProperties", {}).get("image", "")),
                "[yellow]keep (in use)[/]" if keep else "deregister",
            )
        console.print(table)
        if dry_run or not targets:
            console.print(f"{len(targets)} definition(s) would be deregistered; nothing changed")
            raise typer.Exit(EXIT_OK)
        if not _confirm(f"Deregister {len(targets)} job definition(s)?", yes=yes):
            console.print("nothing was deregistered")
            raise typer.Exit(EXIT_FAILED)
        for d in targets:
            with aws_call("DeregisterJobDefinition"):
                batch.deregister_job_definition(jobDefinition=d["jobDefinitionArn"])
            typer.echo(d["jobDefinitionArn"])
        console.print(f"deregistered {len(targets)} job definition(s)")
    raise typer.Exit(EXIT_OK)


def runnable_pcr_jobs(batch: BatchClient, queue: str) -> tuple[list[JobDetailTypeDef], int]:
    """The RUNNABLE jobs in `queue` that pcr-sdk submitted, and how many others there are."""
    ids: list[str] = []
    paginator = batch.get_paginator("list_jobs")
    with aws_call("ListJobs", job_queue=queue):
        for page in paginator.paginate(jobQueue=queue, jobStatus="RUNNABLE"):
            ids.extend(s["jobId"] for s in page["jobSummaryList"])
    ours: list[JobDetailTypeDef] = []
    for start in range(0, len(ids), DESCRIBE_JOBS_MAX_IDS):
        with aws_call("DescribeJobs", job_queue=queue):
            details = batch.describe_jobs(jobs=ids[start : start + DESCRIBE_JOBS_MAX_IDS])
        ours.extend(d for d in details["jobs"] if d.get("tags", {}).get(TAG_BATCH_ID))
    return ours, len(ids) - len(ours)


def stop_runnable(
    ctx: typer.Context,
    queue: Annotated[str, typer.Argument(help="The AWS Batch job queue.", show_default=False)],
    region: opt.Region = None,
    yes: opt.Yes = False,
    dry_run: opt.DryRun = False,
    reason: Annotated[
        str, typer.Option("--reason", help="Reason recorded on every terminated job.")
    ] = STOP_REASON,
) -> None:
    """Terminate the RUNNABLE jobs in QUEUE that pcr-sdk submitted (tag pcr:batch-id), no other.

    Lists them first and asks unless --yes. Prints each terminated job id on stdout.
    """
    runtime = runtime_of(ctx)
    console = stderr_console()
    with cli_errors(console):
        batch = runtime.aws_clients(region).batch
        jobs, others = runnable_pcr_jobs(batch, queue)
        if others:
            console.print(f"leaving alone {others} RUNNABLE job(s) not submitted by pcr-sdk")
        if not jobs:
            console.print(f"no RUNNABLE pcr-sdk jobs in queue {escape(queue)}; nothing to do")
            raise typer.Exit(EXIT_OK)
        table = Table(title=f"RUNNABLE pcr-sdk jobs in {escape(queue)}", title_justify="left")
        table.add_column("job id", overflow="fold")
        table.add_column("batch", overflow="fold")
        table.add_column("index", justify="right")
        for d in jobs:
            tags = d.get("tags", {})
            table.add_row(
                escape(d["jobId"]), escape(tags.get(TAG_BATCH_ID, "")), tags.get(TAG_INDEX, "")
            )
        console.print(table)
        if dry_run:
            console.print(f"{len(jobs)} job(s) would be terminated; nothing changed")
            raise typer.Exit(EXIT_OK)
        if not _confirm(f"Terminate {len(jobs)} RUNNABLE job(s) in {queue}?", yes=yes):
            console.print("nothing was terminated")
            raise typer.Exit(EXIT_FAILED)
        for d in jobs:
            with aws_call("TerminateJob", job_id=d["jobId"], job_queue=queue):
                batch.terminate_job(jobId=d["jobId"], reason=reason)
            typer.echo(d["jobId"])
        console.print(f"terminated {len(jobs)} job(s)")
    raise typer.Exit(EXIT_OK)
