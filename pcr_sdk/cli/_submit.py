"""`pcr run` and `pcr submit`: a JSONL file of inputs becomes a batch, locally or on AWS."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Final

import typer
from rich.console import Console
from rich.markup import escape

from pcr_sdk import (
    AwsClients,
    InterruptedBySignal,
    JobSubmitter,
    PcrError,
    RateGovernor,
    handle_signals,
)
from pcr_sdk.advanced import BatchOptions
from pcr_sdk.cli import _options as opt
from pcr_sdk.cli._batch import Ending, conclude, drive, read_jobs, stream_line
from pcr_sdk.cli._local import DataDir, hold, local_options
from pcr_sdk.cli._progress import BatchProgress, batch_progress, stderr_console
from pcr_sdk.cli._runtime import (
    EXIT_OK,
    EXIT_USAGE,
    LocalEnvironment,
    LocalOptions,
    Runtime,
    cli_errors,
    cpu_slots,
    fail,
    given,
    runtime_of,
)

LOCAL_IMAGE: Final = "pcr-local"
STOP_REASON: Final = "pcr run: --timeout ran out"

RunTimeout = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        min=0,
        help=(
            "Give up waiting after this many seconds: print the outputs known so far (null "
            "for the rest) and exit 124. Locally the unfinished jobs are stopped; on AWS they "
            "keep running (follow them with `pcr wait`)."
        ),
        show_default=False,
    ),
]


@dataclass(frozen=True)
class JobSettings:
    """What every job of a new batch gets."""

    name: str
    memory_mib: int
    vcpus: int
    gpus: int
    timeout_hours: float
    poll_seconds: float | None


def _options(
    settings: JobSettings, *, progress: BatchProgress, runtime: Runtime, governor: RateGovernor
) -> BatchOptions:
    """JobSubmitter keywords of `settings` and the command's collaborators (polling only when
    given: the defaults differ); an error cancels what went out."""
    options: BatchOptions = {
        "memory_in_mb": settings.memory_mib,
        "timeout_in_hours": settings.timeout_hours,
        "vcpus": settings.vcpus,
        "gpus": settings.gpus,
        "governor": governor,
        "progress": progress,
        "cancel_on_error": True,
        "seams": runtime.seams,
    }
    if settings.poll_seconds is not None:
        options["polling_interval_seconds"] = settings.poll_seconds
    return options


def aws_submitter(
    settings: JobSettings,
    *,
    queue: str,
    bucket: str,
    image: str,
    clients: AwsClients,
    progress: BatchProgress,
    runtime: Runtime,
    governor: RateGovernor,
) -> JobSubmitter:
    """A new batch on AWS (registers its job definition); an error cancels what went out."""
    options: BatchOptions = {
        "polling_interval_seconds": opt.AWS_POLL_SECONDS,
        **_options(settings, progress=progress, runtime=runtime, governor=governor),
    }
    return JobSubmitter(settings.name, queue, image, bucket, clients=clients, **options)


def local_submitter(
    settings: JobSettings,
    backend: LocalEnvironment,
    *,
    image: str | None,
    progress: BatchProgress,
    runtime: Runtime,
    governor: RateGovernor,
) -> JobSubmitter:
    """A new batch on the local backend, with its laptop defaults (frequent polling)."""
    options = _options(settings, progress=progress, runtime=runtime, governor=governor)
    return backend.job_submitter(settings.name, image or LOCAL_IMAGE, **options)


def announce(console: Console, submitter: JobSubmitter, jobs: int, where: str) -> None:
    """The batch id, first thing, on its own line."""
    console.print(f"batch {escape(submitter.get_batch_id())}: {jobs} job(s) {where}")


def _local_command(
    command: str | None, containers: opt.ContainerCli | None, image: str | None
) -> list[str] | None:
    if not command and containers is None:
        fail(
            '--local needs --command "python worker.py" (or --containers docker|podman '
            "--image IMG)",
            EXIT_USAGE,
        )
    if containers is not None and not image:
        fail(f"--containers {containers.value} needs --image", EXIT_USAGE)
    try:
        argv = shlex.split(command) if command else None
    except ValueError as err:
        fail(f"--command: {err}", EXIT_USAGE)
    if command is not None and not argv:
        fail("--command is empty", EXIT_USAGE)
    return argv


def _timeout_notes(
    console: Console, ending: Ending, submitter: JobSubmitter, *, local: bool, parallel: int | None
) -> None:
    """What `--timeout` left unfinished, and what to do about it."""
    err = ending.timeout
    if err is None:
        return
    batch_id = escape(submitter.get_batch_id())
    unfinished = len(err.unfinished)
    if not local:
        console.print(
            f"gave up waiting (--timeout): {unfinished} job(s) keep running on AWS; "
            f"follow them with: pcr wait {batch_id} --queue {escape(submitter.job_queue)} "
            f"--bucket {escape(submitter.job_bucket)}  (stop them with: pcr cancel {batch_id} "
            f"--queue {escape(submitter.job_queue)})"
        )
        return
    console.print(f"gave up waiting (--timeout): stopped {unfinished} unfinished job(s)")
    for job_id, reason in list(err.blocked.items())[:1]:
        console.print(f"job {escape(job_id)} could never start here: {escape(reason)}")
    if err.runnable_seconds and not err.blocked:
        limit = (
            f"--parallel {parallel}"
            if parallel is not None
            else f"--parallel, by default one per CPU ({cpu_slots()})"
        )
        console.print(
            f"{len(err.runnable_seconds)} job(s) were waiting for a free slot: at most "
            f"{limit} local jobs run at once; raise --parallel or --timeout"
        )


def _signal_notes(console: Console, ending: Ending, submitter: JobSubmitter) -> None:
    if ending.signum is not None:
        console.print(
            f"interrupted by {ending.signal_name}: stopped submitting, cancelled the "
            f"unfinished jobs of batch {escape(submitter.get_batch_id())}"
        )


def run_owned(
    submitter: JobSubmitter,
    inputs: Sequence[Any],
    *,
    console: Console,
    progress: BatchProgress,
    runtime: Runtime,
    started: float,
    timeout: float | None,
    array: bool,
    local: bool,
    parallel: int | None = None,
    stream: bool = False,
) -> int:
    """Submit, wait, print what is known; the batch is this process's: a signal cancels it.

    With `stream`, each output goes to stdout as soon as its job finishes, tagged with its
    input line (`{"line": 17, "output": ...}`), and is not printed again at the end.
    """
    with submitter:
        ending = drive(
            submitter, inputs, progress, array=array, timeout=timeout, clock=runtime.clock,
            on_result=(lambda result: typer.echo(stream_line(result))) if stream else None,
        )  # fmt: skip
        if ending.timeout is not None and local:
            submitter.cancel(STOP_REASON, wait=False)
        _signal_notes(console, ending, submitter)
        _timeout_notes(console, ending, submitter, local=local, parallel=parallel)
        return conclude(
            submitter,
            console,
            ending,
            seconds=runtime.clock() - started,
            count=len(inputs),
            local=local,
            streamed=stream,
        )


def run(
    ctx: typer.Context,
    jobs: opt.JobsFile,
    local: Annotated[
        bool,
        typer.Option(
            "--local", help="Run on the embedded local backend: no AWS account, loopback only."
        ),
    ] = False,
    command: Annotated[
        str | None,
        typer.Option(
            "--command",
            "-c",
            help=(
                'With --local: the worker command, e.g. "python worker.py" (shell-quoted); '
                "`python` is the interpreter pcr runs in."
            ),
            show_default=False,
        ),
    ] = None,
    parallel: Annotated[
        int | None,
        typer.Option(
            "--parallel",
            "-p",
            min=1,
            help="With --local: jobs running at once (default: one per CPU).",
            show_default=False,
        ),
    ] = None,
    containers: opt.Containers = None,
    host_access: opt.HostAccess = False,
    docker: opt.RemovedDocker = False,
    array: opt.Array = False,
    name: opt.Name = "pcr-run",
    queue: opt.OptionalQueue = None,
    bucket: opt.OptionalBucket = None,
    image: opt.OptionalImage = None,
    region: opt.Region = None,
    memory: opt.Memory = 1024,
    vcpus: opt.Vcpus = 1,
    gpus: opt.Gpus = 0,
    timeout_hours: opt.TimeoutHours = 20,
    poll_seconds: opt.RunPollSeconds = None,
    timeout: RunTimeout = None,
    stream: Annotated[
        bool,
        typer.Option(
            "--stream",
            help=(
                'Print each output as soon as its job finishes, as {"line": K, "output": ...} '
                "(K: its input line; null for a failed job), instead of all of them in input "
                "order at the end: what finished is out even if the run is cut short."
            ),
        ),
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Run one job per JSONL line, wait, print each output as a JSON line in input order.

    Failed jobs print null. Progress and a summary go to stderr. Without --local it runs on
    AWS and needs --queue, --bucket and --image (or PCR_QUEUE, PCR_BUCKET, PCR_IMAGE).

    The batch belongs to this command: Ctrl-C, SIGTERM or SIGHUP stop submitting, cancel the
    unfinished jobs (locally: kill their processes), print the outputs known so far (null for
    the rest) and exit 130, 143 or 129.

    Locally the batch is kept in the local account (`--data-dir`, PCR_LOCAL_DIR, else the
    user's state directory): `pcr status / outputs / report / retry BATCH_ID --local` read it
    afterwards, from any process.

    Exit 0 when every job succeeded, 1 when any failed, 2 on bad usage or input, 124 when
    --timeout ran out.
    """
    runtime = runtime_of(ctx)
    console = stderr_console()
    started = runtime.clock()
    settings = JobSettings(name, memory, vcpus, gpus, timeout_hours, poll_seconds)
    if docker:
        fail(opt.RENAMED_DOCKER, EXIT_USAGE)
    with cli_errors(console), handle_signals():
        governor = runtime.governor()
        progress = batch_progress(console, clock=runtime.clock)
        if local:
            if given(ctx, "queue", queue) or given(ctx, "bucket", bucket):
                fail("--queue and --bucket are for AWS; drop them with --local", EXIT_USAGE)
            if given(ctx, "region", region):
                fail("--region is for AWS; drop it with --local", EXIT_USAGE)
            if containers is None:
                image = given(ctx, "image", image)
            argv = _local_command(command, containers, image)
            inputs = read_jobs(jobs)
            options = LocalOptions.for_jobs(
                argv,
                parallel=parallel,
                vcpus=vcpus,
                memory_mib=memory,
                gpus=gpus,
                containers=containers.value if containers is not None else None,
                host_access=host_access,
            )
            options = local_options(options, data_dir, image=image or LOCAL_IMAGE)
            with hold(runtime, options, console) as backend:
                submitter = local_submitter(
                    settings,
                    backend,
                    image=image,
                    progress=progress,
                    runtime=runtime,
                    governor=governor,
                )
                announce(console, submitter, len(inputs), "on the local backend")
                code = run_owned(
                    submitter,
                    inputs,
                    console=console,
                    progress=progress,
                    runtime=runtime,
                    started=started,
                    timeout=timeout,
                    array=array,
                    local=True,
                    parallel=parallel,
                    stream=stream,
                )
            follow_hint(console, submitter.get_batch_id(), options)
        else:
            if command or parallel is not None or containers is not None or host_access:
                fail(
                    "--command, --parallel, --containers and --host-access need --local",
                    EXIT_USAGE,
                )
            if given(ctx, "data_dir", None if data_dir is None else str(data_dir)):
                fail("--data-dir needs --local", EXIT_USAGE)
            aws_queue, aws_bucket, aws_image = _require_aws_target(queue, bucket, image)
            inputs = read_jobs(jobs)
            submitter = aws_submitter(
                settings,
                queue=aws_queue,
                bucket=aws_bucket,
                image=aws_image,
                clients=runtime.aws_clients(region),
                progress=progress,
                runtime=runtime,
                governor=governor,
            )
            announce(console, submitter, len(inputs), f"in queue {escape(aws_queue)}")
            code = run_owned(
                submitter,
                inputs,
                console=console,
                progress=progress,
                runtime=runtime,
                started=started,
                timeout=timeout,
                array=array,
                local=False,
                stream=stream,
            )
    raise typer.Exit(code)


def follow_hint(console: Console, batch_id: str, options: LocalOptions) -> None:
    """Where the batch is kept, and how to read it later."""
    if options.data_dir is None:
        return
    where = escape(str(options.data_dir))
    console.print(
        f"kept in the local account {where}; later: pcr outputs / report / retry "
        f"{escape(batch_id)} --local"
    )


def _require_aws_target(
    queue: str | None, bucket: str | None, image: str | None
) -> tuple[str, str, str]:
    """Queue, bucket and image, or exit 2 naming the missing flags."""
    if queue and bucket and image:
        return queue, bucket, image
    missing = [
        flag
        for flag, value in (("--queue", queue), ("--bucket", bucket), ("--image", image))
        if not value
    ]
    fail(f"{', '.join(missing)} required to run on AWS (or pass --local to run here)", EXIT_USAGE)


def submit(
    ctx: typer.Context,
    jobs: opt.JobsFile,
    queue: opt.Queue,
    bucket: opt.Bucket,
    image: opt.Image,
    array: opt.Array = False,
    name: opt.Name = "pcr-batch",
    region: opt.Region = None,
    memory: opt.Memory = 1024,
    vcpus: opt.Vcpus = 1,
    gpus: opt.Gpus = 0,
    timeout_hours: opt.TimeoutHours = 20,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait for the batch and print outputs, like run.")
    ] = False,
    poll_seconds: opt.PollSeconds = None,
    timeout: RunTimeout = None,
) -> None:
    """Submit one job per JSONL line to AWS Batch and print the batch id on stdout.

    The job definition stays registered for the jobs; `pcr wait BATCH_ID` deregisters it when
    the batch is done (this command records in the batch's manifest that it submits no more).
    With --wait it behaves like `pcr run`. Ctrl-C, SIGTERM or SIGHUP while submitting stop it
    and cancel the jobs that went out (exit 130, 143 or 129).
    """
    runtime = runtime_of(ctx)
    console = stderr_console()
    started = runtime.clock()
    settings = JobSettings(name, memory, vcpus, gpus, timeout_hours, poll_seconds)
    with cli_errors(console), handle_signals():
        inputs = read_jobs(jobs)
        progress = batch_progress(console, clock=runtime.clock)
        submitter = aws_submitter(
            settings,
            queue=queue,
            bucket=bucket,
            image=image,
            clients=runtime.aws_clients(region),
            progress=progress,
            runtime=runtime,
            governor=runtime.governor(),
        )
        announce(console, submitter, len(inputs), f"in queue {escape(queue)}")
        if wait:
            code = run_owned(
                submitter,
                inputs,
                console=console,
                progress=progress,
                runtime=runtime,
                started=started,
                timeout=timeout,
                array=array,
                local=False,
            )
            raise typer.Exit(code)
        code = _submit_only(submitter, inputs, console, progress, runtime, array=array)
    raise typer.Exit(code)


def _submit_only(
    submitter: JobSubmitter,
    inputs: Sequence[Any],
    console: Console,
    progress: BatchProgress,
    runtime: Runtime,
    *,
    array: bool,
) -> int:
    """Submit and leave the jobs running; a signal while submitting cancels the batch."""
    started = runtime.clock()
    try:
        with handle_signals(submitter, owns=True), progress:
            progress.begin_submit(len(inputs), lambda: len(submitter.jobs))
            submitter.submit_jobs(inputs, array=array)
            progress.end_submit(len(submitter.jobs), runtime.clock() - started)
    except KeyboardInterrupt as interrupt:
        code = interrupt.exit_code if isinstance(interrupt, InterruptedBySignal) else 130
        console.print(
            f"interrupted: cancelled the {len(submitter.jobs)} job(s) submitted so far "
            f"(batch {escape(submitter.get_batch_id())})"
        )
        return code
    except BaseException:
        try:  # a half-submitted batch is not left running with its definition ACTIVE
            submitter.cancel("pcr submit: submission failed", wait=False)
        except PcrError as err:
            console.print(f"[yellow]warning[/]: could not cancel the jobs submitted: {err}")
        raise
    submitter.detach()  # no more jobs from here: whoever sees the jobs finished deregisters
    batch_id = submitter.get_batch_id()
    typer.echo(batch_id)
    console.print(  # the progress said how many went out, and how fast
        f"follow them with: pcr wait {escape(batch_id)} --queue "
        f"{escape(submitter.job_queue)} --bucket {escape(submitter.job_bucket)}"
    )
    return EXIT_OK
