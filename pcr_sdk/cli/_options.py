"""Options several commands share, declared once.

The run and follow commands take queue, bucket, region and image from PCR_QUEUE, PCR_BUCKET,
PCR_REGION and PCR_IMAGE, and their polling interval from PCR_POLL_SECONDS, so follow-up
commands need not repeat them (`--help` shows each variable); `pcr local serve` prints the
`export` lines that set them. Its own options create things and read none of them.
`tests/cli/test_cli_environment.py` walks the app and holds every command to this rule.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated, Final

import typer

ENV_QUEUE: Final = "PCR_QUEUE"
ENV_BUCKET: Final = "PCR_BUCKET"
ENV_REGION: Final = "PCR_REGION"
ENV_IMAGE: Final = "PCR_IMAGE"
ENV_POLL_SECONDS: Final = "PCR_POLL_SECONDS"
AWS_POLL_SECONDS: Final = 10.0
"""Seconds between polls on AWS when neither --poll-seconds nor PCR_POLL_SECONDS says."""
LOCAL_POLL_SECONDS: Final = 0.2
"""Seconds between polls of `pcr run --local` (and what `pcr local serve` exports)."""

JobsFile = Annotated[
    Path,
    typer.Argument(
        help=(
            "JSON Lines file: one job input per line, no blank lines; UTF-8, a byte order "
            "mark is fine ('-' reads stdin)."
        ),
        show_default=False,
    ),
]
BatchIdArg = Annotated[
    str,
    typer.Argument(
        help="The batch id that `pcr submit` or `pcr run` printed (`<name>_<uuid>`).",
        show_default=False,
    ),
]
Queue = Annotated[str, typer.Option("--queue", "-q", envvar=ENV_QUEUE, help="AWS Batch job queue.")]
OptionalQueue = Annotated[
    str | None,
    typer.Option("--queue", "-q", envvar=ENV_QUEUE, help="AWS Batch job queue (AWS only)."),
]
Bucket = Annotated[str, typer.Option("--bucket", "-b", envvar=ENV_BUCKET, help="S3 job bucket.")]
OptionalBucket = Annotated[
    str | None,
    typer.Option("--bucket", "-b", envvar=ENV_BUCKET, help="S3 job bucket (AWS only)."),
]
Image = Annotated[
    str, typer.Option("--image", envvar=ENV_IMAGE, help="Container image every job runs.")
]
OptionalImage = Annotated[
    str | None,
    typer.Option(
        "--image",
        envvar=ENV_IMAGE,
        help="Container image every job runs (with --local: the image --containers runs).",
    ),
]
Region = Annotated[
    str | None,
    typer.Option(
        "--region",
        envvar=ENV_REGION,
        help="AWS region (default: the configured one).",
        show_default=False,
    ),
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
_SERVE_EXPORTS: Final = f"`pcr local serve` exports {ENV_POLL_SECONDS}={LOCAL_POLL_SECONDS:g}"
PollSeconds = Annotated[
    float | None,
    typer.Option(
        "--poll-seconds",
        min=0,
        envvar=ENV_POLL_SECONDS,
        help=f"Seconds between status polls (default: {AWS_POLL_SECONDS:g}; {_SERVE_EXPORTS}).",
        show_default=False,
    ),
]
RunPollSeconds = Annotated[
    float | None,
    typer.Option(
        "--poll-seconds",
        min=0,
        envvar=ENV_POLL_SECONDS,
        help=(
            f"Seconds between status polls (default: {AWS_POLL_SECONDS:g}, with --local "
            f"{LOCAL_POLL_SECONDS:g}; {_SERVE_EXPORTS})."
        ),
        show_default=False,
    ),
]
Array = Annotated[
    bool,
    typer.Option(
        "--array",
        help=(
            "Submit the inputs as one array job (a few API calls for up to 10,000 jobs, "
            "instead of two per job). Only for workers that read their input with "
            "`pcr_sdk.worker`: a plain boto3 worker reading S3_JOB_CONFIG_KEY finds nothing."
        ),
    ),
]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Only list what would be changed.")]


class ContainerCli(str, enum.Enum):
    """The container runtimes `--containers` names."""

    docker = "docker"
    podman = "podman"


Containers = Annotated[
    ContainerCli | None,
    typer.Option(
        "--containers",
        help=(
            "Run each job in a container of this CLI (never picked for you): the job's image "
            "with its MEMORY as memory limit and VCPU as CPU limit (docs/containers.md). "
            "Default: processes here."
        ),
        show_default=False,
    ),
]
HostAccess = Annotated[
    bool,
    typer.Option(
        "--host-access",
        help=(
            "With --containers: allow what reaches this machine from a job definition "
            "(privileged, user, host volumes, devices); without it such a job fails to start."
        ),
    ),
]
RemovedDocker = Annotated[
    bool, typer.Option("--docker", hidden=True, help="Renamed: --containers docker.")
]
RENAMED_DOCKER: Final = (
    "--docker is now --containers docker (or --containers podman): name the runtime"
)
