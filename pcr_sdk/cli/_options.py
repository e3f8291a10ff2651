"""Options several commands share, declared once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

JobsFile = Annotated[
    Path,
    typer.Argument(
        help="JSON Lines file: one job input per line, blank lines skipped ('-' reads stdin).",
        show_default=False,
    ),
]
BatchIdArg = Annotated[
    str,
    typer.Argument(help="The batch id (<name>_<uuid>) that submit printed.", show_default=False),
]
Queue = Annotated[str, typer.Option("--queue", "-q", help="AWS Batch job queue.")]
OptionalQueue = Annotated[
    str | None, typer.Option("--queue", "-q", help="AWS Batch job queue (not with --local).")
]
Bucket = Annotated[str, typer.Option("--bucket", "-b", help="S3 job bucket.")]
OptionalBucket = Annotated[
    str | None, typer.Option("--bucket", "-b", help="S3 job bucket (not with --local).")
]
Image = Annotated[str, typer.Option("--image", help="Container image every job runs.")]
OptionalImage = Annotated[
    str | None,
    typer.Option("--image", help="Container image every job runs (with --local: for --docker)."),
]
Region = Annotated[
    str | None,
    typer.Option("--region", help="AWS region (default: the configured one).", show_default=False),
]
Name = Annotated[
    str,
    typer.Option(
        "--name",
        "-n",
        help="Batch name: a letter or digit, then letters, digits, '-' or '_'; at most 90.",
    ),
]
Memory = Annotated[int, typer.Option("--memory", min=4, help="Memory per job in MiB.")]
Vcpus = Annotated[int, typer.Option("--vcpus", min=1, help="vCPUs per job.")]
Gpus = Annotated[int, typer.Option("--gpus", min=0, help="GPUs per job (0: none).")]
TimeoutHours = Annotated[
    float,
    typer.Option(
        "--timeout-hours", help="Per-attempt time limit of every job, in hours (>= 1/60)."
    ),
]
PollSeconds = Annotated[
    float | None,
    typer.Option(
        "--poll-seconds",
        min=0,
        help="Seconds between status polls (default: 10 on AWS, 0.2 locally).",
        show_default=False,
    ),
]
WaitTimeout = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        min=0,
        help="Give up waiting after this many seconds (exit 1); jobs keep running.",
        show_default=False,
    ),
]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Only list what would be changed.")]
