"""`pcr cleanup` and `pcr stop-runnable`: the seed's maintenance scripts, scoped to pcr-sdk.

The originals deregistered every ACTIVE job definition in the account and terminated every
RUNNABLE job in a queue. These touch only what pcr-sdk created (recognised by its tags), list it
first, and ask before changing anything unless --yes is given. `pcr cleanup --data BATCH_ID`
deletes one batch's objects in S3. Every Batch call waits for the command's governor.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Final

import click
import typer
from rich.markup import escape
from rich.table import Table

from pcr_sdk import AwsClients, BatchId, BatchLayout, BatchStatus
from pcr_sdk.cli import _options as opt
from pcr_sdk.cli._governed import (
    MANAGED_BY_VALUE,
    TAG_BATCH_ID,
    TAG_INDEX,
    TAG_MANAGED_BY,
    GovernedBatch,
)
from pcr_sdk.cli._progress import stderr_console
from pcr_sdk.cli._runtime import EXIT_FAILED, EXIT_OK, EXIT_USAGE, cli_errors, fail, runtime_of

if TYPE_CHECKING:
    from mypy_boto3_batch.literals import JobStatusType
    from mypy_boto3_batch.type_defs import JobDefinitionTypeDef, JobDetailTypeDef
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

UNFINISHED: Final[tuple[JobStatusType, ...]] = (
    "SUBMITTED",
    "PENDING",
    "RUNNABLE",
    "STARTING",
    "RUNNING",
)
ARRAY_PARENT_STATUSES: Final[tuple[JobStatusType, ...]] = ("PENDING", "STARTING", "RUNNING")
"""Where an array job's parent may be while some of its children are RUNNABLE."""
STOP_REASON: Final = "stopped with pcr stop-runnable"
DELETE_MAX_KEYS: Final = 1000


def _confirm(question: str, *, yes: bool) -> bool:
    """Ask on stderr, read the answer from stdin (stdout stays machine-readable); default no."""
    if yes:
        return True
    try:
        # click echoes the prompt's last character (and, under a test runner, the answer)
        # to stdout: keep stdout for results only
        with contextlib.redirect_stdout(sys.stderr):
            return typer.confirm(question, default=False, err=True)
    except (typer.Abort, click.exceptions.Abort):
        fail("no answer on stdin; pass --yes to proceed without asking")


def pcr_definitions(batch: GovernedBatch) -> list[JobDefinitionTypeDef]:
    """Every ACTIVE job definition tagged as pcr-sdk's, and no other."""
    found: list[JobDefinitionTypeDef] = []
    pages = batch.batch.get_paginator("describe_job_definitions").paginate(status="ACTIVE")
    for page in batch.paged(pages):
        found.extend(
            d
            for d in page["jobDefinitions"]
            if d.get("status") == "ACTIVE"
            and d.get("tags", {}).get(TAG_MANAGED_BY) == MANAGED_BY_VALUE
        )
    return sorted(found, key=lambda d: (d["jobDefinitionName"], d["revision"]))


def names_in_use(batch: GovernedBatch) -> set[str]:
    """Names of the jobs not yet finished in any queue (a pcr-sdk job is named after its batch)."""
    names: set[str] = set()
    queues = batch.batch.get_paginator("describe_job_queues").paginate()
    queue_names = [q["jobQueueName"] for page in batch.paged(queues) for q in page["jobQueues"]]
    for queue in queue_names:
        for status in UNFINISHED:
            pages = batch.batch.get_paginator("list_jobs").paginate(
                jobQueue=queue, jobStatus=status
            )
            for page in batch.paged(pages):
                names.update(s["jobName"] for s in page["jobSummaryList"])
    return names


def cleanup(
    ctx: typer.Context,
    data: Annotated[
        str | None,
        typer.Option(
            "--data",
            metavar="BATCH_ID",
            help=(
                "Instead: delete batch BATCH_ID's objects in S3 (its inputs, outputs and "
                "manifest under jobs/BATCH_ID/); needs --bucket. With --queue, refuses while "
                "the batch has unfinished jobs."
            ),
            show_default=False,
        ),
    ] = None,
    bucket: opt.OptionalBucket = None,
    queue: opt.OptionalQueue = None,
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
    unless --include-in-use. Lists them first and asks unless --yes. Prints each deregistered
    ARN on stdout. With --data BATCH_ID it deletes that batch's data in S3 instead.
    """
    runtime = runtime_of(ctx)
    console = stderr_console()
    with cli_errors(console):
        clients = runtime.aws_clients(region)
        if data is not None:
            _delete_batch_data(ctx, clients, data, bucket=bucket, queue=queue, yes=yes,
                               dry_run=dry_run)  # fmt: skip
        batch = GovernedBatch(clients.batch, runtime.governor())
        definitions = pcr_definitions(batch)
        if not definitions:
            console.print("no ACTIVE pcr-sdk job definitions; nothing to do")
            raise typer.Exit(EXIT_OK)
        in_use = set() if include_in_use else names_in_use(batch)
        targets = [d for d in definitions if d["jobDefinitionName"] not in in_use]
        table = Table(title="ACTIVE pcr-sdk job definitions", title_justify="left")
        table.add_column("name", no_wrap=True)
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
            batch.deregister(d["jobDefinitionArn"])
            typer.echo(d["jobDefinitionArn"])
        console.print(f"deregistered {len(targets)} job definition(s)")
    raise typer.Exit(EXIT_OK)


def _delete_batch_data(
    ctx: typer.Context,
    clients: AwsClients,
    batch_id: str,
    *,
    bucket: str | None,
    queue: str | None,
    yes: bool,
    dry_run: bool,
) -> None:
    """`pcr cleanup --data BATCH_ID`: list, ask, delete; prints the deleted keys' count."""
    runtime = runtime_of(ctx)
    console = stderr_console()
    prefix = f"{BatchLayout(str(BatchId.parse(batch_id))).root}/"
    if not bucket:
        fail("--data needs --bucket (or PCR_BUCKET)", EXIT_USAGE)
    if queue:
        view = BatchStatus.fetch(
            batch_id, job_queue=queue, clients=clients, governor=runtime.governor(),
            seams=runtime.seams,
        )  # fmt: skip
        unfinished = view.unfinished()
        if unfinished:
            fail(
                f"batch {batch_id} has {len(unfinished)} unfinished job(s) in {queue}; "
                f"wait for them or stop them first (pcr cancel {batch_id} --queue {queue})"
            )
    keys: list[str] = []
    size = 0
    for page in clients.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            keys.append(item["Key"])
            size += item.get("Size", 0)
    where = f"s3://{bucket}/{prefix}"
    if not keys:
        console.print(f"nothing under {escape(where)}; nothing to do")
        raise typer.Exit(EXIT_OK)
    console.print(f"{len(keys)} object(s), {size / 1_048_576:.1f} MiB under {escape(where)}")
    if dry_run:
        console.print("nothing deleted (--dry-run)")
        raise typer.Exit(EXIT_OK)
    if not _confirm(f"Delete {len(keys)} object(s) under {where}?", yes=yes):
        console.print("nothing was deleted")
        raise typer.Exit(EXIT_FAILED)
    errors = _delete(clients, bucket, keys)
    for message in errors[:5]:
        console.print(f"[red]not deleted[/]: {escape(message)}")
    deleted = len(keys) - len(errors)
    typer.echo(json.dumps({"bucket": bucket, "prefix": prefix, "deleted": deleted,
                           "errors": len(errors)}, separators=(",", ":")))  # fmt: skip
    console.print(f"deleted {deleted} object(s) under {escape(where)}")
    raise typer.Exit(EXIT_OK if not errors else EXIT_FAILED)


def _delete(clients: AwsClients, bucket: str, keys: list[str]) -> list[str]:
    """Delete `keys`, 1000 a call; the keys S3 refused, with its message."""
    errors: list[str] = []
    for start in range(0, len(keys), DELETE_MAX_KEYS):
        objects: list[ObjectIdentifierTypeDef] = [
            {"Key": key} for key in keys[start : start + DELETE_MAX_KEYS]
        ]
        response = clients.s3.delete_objects(
            Bucket=bucket, Delete={"Objects": objects, "Quiet": True}
        )
        errors += [f"{e.get('Key')}: {e.get('Message')}" for e in response.get("Errors", [])]
    return errors


@dataclass(frozen=True)
class RunnableJob:
    """A RUNNABLE job pcr-sdk submitted: its id, batch and index."""

    job_id: str
    batch_id: str
    index: str


def _runnable_children(batch: GovernedBatch, parent: JobDetailTypeDef) -> list[RunnableJob]:
    """The RUNNABLE children of one of pcr-sdk's array jobs (listed through their parent)."""
    tags = parent.get("tags", {})
    base = tags.get(TAG_INDEX, "")
    found: list[RunnableJob] = []
    pages = batch.batch.get_paginator("list_jobs").paginate(
        arrayJobId=parent["jobId"], jobStatus="RUNNABLE"
    )
    for page in batch.paged(pages):
        for summary in page["jobSummaryList"]:
            child = summary["jobId"].rsplit(":", 1)[-1]
            index = str(int(base) + int(child)) if base.isdigit() and child.isdigit() else ""
            found.append(RunnableJob(summary["jobId"], tags.get(TAG_BATCH_ID, ""), index))
    return found


def runnable_pcr_jobs(batch: GovernedBatch, queue: str) -> tuple[list[RunnableJob], int]:
    """The RUNNABLE jobs in `queue` that pcr-sdk submitted, and how many others there are.

    ListJobs without `arrayJobId` shows array parents, not their children (a parent shows
    PENDING or RUNNING while children wait RUNNABLE): the children of pcr-sdk's arrays are
    listed through each parent.
    """
    runnable = _listed(batch, queue, ("RUNNABLE",))
    parents = _listed(batch, queue, ARRAY_PARENT_STATUSES)
    details = batch.describe_jobs(list(dict.fromkeys(runnable + parents)))
    waiting = set(runnable)
    ours: list[RunnableJob] = []
    others = 0
    for detail in details:
        tags = detail.get("tags", {})
        if not tags.get(TAG_BATCH_ID):
            others += detail["jobId"] in waiting
            continue
        if detail.get("arrayProperties", {}).get("size"):
            ours += _runnable_children(batch, detail)
        elif detail["jobId"] in waiting:  # as listed: a job may have moved on since
            ours.append(RunnableJob(detail["jobId"], tags[TAG_BATCH_ID], tags.get(TAG_INDEX, "")))
    return ours, others


def _listed(batch: GovernedBatch, queue: str, statuses: Iterable[JobStatusType]) -> list[str]:
    """Ids of the jobs in `queue` in `statuses`, array children left out."""
    ids: list[str] = []
    for status in statuses:
        pages = batch.batch.get_paginator("list_jobs").paginate(jobQueue=queue, jobStatus=status)
        for page in batch.paged(pages):
            ids += [s["jobId"] for s in page["jobSummaryList"] if ":" not in s["jobId"]]
    return ids


def stop_runnable(
    ctx: typer.Context,
    queue: Annotated[
        str,
        typer.Argument(envvar=opt.ENV_QUEUE, help="The AWS Batch job queue.", show_default=False),
    ],
    region: opt.Region = None,
    yes: opt.Yes = False,
    dry_run: opt.DryRun = False,
    reason: Annotated[
        str, typer.Option("--reason", help="Reason recorded on every terminated job.")
    ] = STOP_REASON,
) -> None:
    """Terminate the RUNNABLE jobs in QUEUE that pcr-sdk submitted (tag pcr:batch-id), no other.

    Array children waiting RUNNABLE are found through their parent and terminated one by
    one (their running siblings go on). Lists them first and asks unless --yes. Prints each
    terminated job id on stdout.
    """
    runtime = runtime_of(ctx)
    console = stderr_console()
    with cli_errors(console):
        batch = GovernedBatch(runtime.aws_clients(region).batch, runtime.governor())
        jobs, others = runnable_pcr_jobs(batch, queue)
        if others:
            console.print(f"leaving alone {others} RUNNABLE job(s) not submitted by pcr-sdk")
        if not jobs:
            console.print(f"no RUNNABLE pcr-sdk jobs in queue {escape(queue)}; nothing to do")
            raise typer.Exit(EXIT_OK)
        table = Table(title=f"RUNNABLE pcr-sdk jobs in {escape(queue)}", title_justify="left")
        table.add_column("job id", no_wrap=True)
        table.add_column("batch", no_wrap=True)
        table.add_column("index", justify="right")
        for job in jobs:
            table.add_row(escape(job.job_id), escape(job.batch_id), job.index)
        console.print(table)
        if dry_run:
            console.print(f"{len(jobs)} job(s) would be terminated; nothing changed")
            raise typer.Exit(EXIT_OK)
        if not _confirm(f"Terminate {len(jobs)} RUNNABLE job(s) in {queue}?", yes=yes):
            console.print("nothing was terminated")
            raise typer.Exit(EXIT_FAILED)
        for job in jobs:
            batch.terminate(job.job_id, reason)
            typer.echo(job.job_id)
        console.print(f"terminated {len(jobs)} job(s)")
    raise typer.Exit(EXIT_OK)
