"""What the commands take from the outside world, injectable through typer's context object.

Nothing here creates a client or starts a backend at import time: `Runtime`'s factories run
inside a command. Tests pass `obj=Runtime(aws_clients=lambda region: world.clients, ...)` to
`CliRunner.invoke`. The commands use pcr-sdk's public API only (never `pcr_sdk._private`).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, NoReturn, Protocol

import boto3
import click
import typer
from botocore.exceptions import BotoCoreError, ClientError
from typing_extensions import Unpack

from pcr_sdk import (
    AwsClients,
    InterruptedBySignal,
    JobSubmitter,
    PcrError,
    PcrInputError,
    RateGovernor,
)
from pcr_sdk.advanced import BatchOptions, Seams

if TYPE_CHECKING:
    from rich.console import Console

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
EXIT_TIMEOUT: Final = 124
"""`--timeout` ran out (GNU timeout's code)."""
EXIT_INTERRUPTED: Final = 130
"""Ctrl-C; a signal n gives 128 + n (SIGTERM 143, SIGHUP 129)."""
BATCH_CALLS_PER_SECOND: Final = 40.0
"""Every Batch call of a command goes through one governor at this rate (AWS allows 50/s)."""

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class LocalEnvironment(Protocol):
    """What a running local backend offers a command (`pcr_sdk.local.LocalBackend` has it)."""

    @property
    def clients(self) -> AwsClients: ...

    @property
    def bucket(self) -> str: ...

    @property
    def queue(self) -> str: ...

    def job_submitter(
        self, batch_name: str, container: str = ..., **options: Unpack[BatchOptions]
    ) -> JobSubmitter: ...


class AccountConnection(Protocol):
    """A local account in use (`pcr_sdk.local.LocalConnection` is one)."""

    @property
    def clients(self) -> AwsClients: ...

    @property
    def bucket(self) -> str: ...

    @property
    def queue(self) -> str: ...

    @property
    def holder(self) -> Any: ...


@dataclass(frozen=True)
class LocalOptions:
    """How to start the local backend: the job command and how many jobs run at once."""

    command: Sequence[str] | None
    max_parallel: int | None = None
    containers: str | None = None
    """"docker" or "podman": jobs run as containers of that CLI (None: processes here)."""
    host_access: bool = False
    extra_env: Mapping[str, str] = field(default_factory=dict)
    vcpus: float | None = None
    memory_mib: int | None = None
    gpus: int = 0
    """The local compute environment (None: the machine's); jobs wait for free resources as on
    AWS."""
    data_dir: Path | None = None
    """The local account kept for later commands (None: a temporary one)."""
    image: str | None = None
    """The image `command` is for (None: every image)."""

    @classmethod
    def for_jobs(
        cls,
        command: Sequence[str] | None,
        *,
        parallel: int | None,
        vcpus: int = 1,
        memory_mib: int = 1024,
        gpus: int = 0,
        containers: str | None = None,
        host_access: bool = False,
    ) -> LocalOptions:
        """Room for `parallel` jobs of this size at once (default: one per CPU), no more."""
        slots = parallel if parallel is not None else cpu_slots()
        return cls(
            command=command,
            max_parallel=slots,
            containers=containers,
            host_access=host_access,
            vcpus=slots * vcpus, memory_mib=slots * memory_mib, gpus=slots * gpus,
        )  # fmt: skip


def cpu_slots() -> int:
    """The CPUs this process may use: local jobs running at once by default."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


ClientFactory = Callable[[str | None], AwsClients]
BackendFactory = Callable[[LocalOptions], AbstractContextManager[LocalEnvironment]]
AccountFactory = Callable[
    [Path, bool, Callable[[Any], None]], AbstractContextManager[AccountConnection]
]
"""(account directory, run jobs, told when waiting for its holder) -> the account in use."""


def aws_clients_for_region(region: str | None) -> AwsClients:
    """Real AWS clients from the default credential chain, in `region` (or the configured one)."""
    return AwsClients.from_session(boto3.Session(region_name=region))


def interpreter_path(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """PATH for local jobs: the bin directory of the Python running pcr first.

    `--command "python worker.py"` then runs the interpreter pcr-sdk is installed in (a
    venv's `python`), whatever PATH the shell has, so `import pcr_sdk.worker` works.
    """
    env = os.environ if environ is None else environ
    here = str(Path(sys.executable).parent)  # not resolved: a venv's python is a symlink
    rest = [p for p in env.get("PATH", os.defpath).split(os.pathsep) if p and p != here]
    return {"PATH": os.pathsep.join([here, *rest])}


def start_local_backend(options: LocalOptions) -> AbstractContextManager[LocalEnvironment]:
    """pcr-sdk's embedded local backend (imported here: it needs the `local` extra)."""
    from pcr_sdk.local import LocalBackend  # noqa: PLC0415 - optional dependency, loaded on use

    command = options.command
    return LocalBackend(
        {options.image: command} if command is not None and options.image else command,
        max_parallel=options.max_parallel,
        containers=_runtime_name(options.containers),
        host_access=options.host_access,
        extra_env={**interpreter_path(), **options.extra_env},
        vcpus=options.vcpus,
        memory_mib=options.memory_mib,
        gpus=options.gpus,
        data_dir=options.data_dir,
    )


def _runtime_name(value: str | None) -> Literal["docker", "podman"] | None:
    if value == "docker":
        return "docker"
    if value == "podman":
        return "podman"
    if value is None:
        return None
    raise PcrInputError(f"--containers takes docker or podman, not {value!r}")


def connect_local_account(
    directory: Path, run_jobs: bool, on_wait: Callable[[Any], None]
) -> AbstractContextManager[AccountConnection]:
    """The local account in `directory`: its holder joined, or opened here."""
    from pcr_sdk.local import LocalAccount  # noqa: PLC0415 - optional dependency, loaded on use

    return LocalAccount(directory).connect(run_jobs=run_jobs, on_wait=on_wait)


def batch_governor() -> RateGovernor:
    """The one governor every Batch call of a command waits for."""
    return RateGovernor.per_second(BATCH_CALLS_PER_SECOND)


def epoch_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Runtime:
    """The collaborators of every command, with working defaults."""

    aws_clients: ClientFactory = aws_clients_for_region
    local_backend: BackendFactory = start_local_backend
    local_account: AccountFactory = connect_local_account
    sleep: Sleep = time.sleep
    clock: Clock = time.monotonic
    governor: Callable[[], RateGovernor] = batch_governor
    now_ms: Callable[[], int] = epoch_ms
    """Wall-clock epoch milliseconds (the report's "now")."""

    @property
    def seams(self) -> Seams:
        """The clock and sleep as the SDK takes them."""
        return Seams(clock=self.clock, sleep=self.sleep)


def runtime_of(ctx: typer.Context) -> Runtime:
    """The `Runtime` passed as typer's context object, or the default one."""
    found = ctx.find_object(Runtime)
    return found if found is not None else Runtime()


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    """Print a one-line error to stderr and end the command with `code`."""
    typer.echo(f"pcr: error: {message}", err=True)
    raise typer.Exit(code)


def given(ctx: typer.Context, name: str, value: str | None) -> str | None:
    """`value` if it came from the command line, None if it came from the environment."""
    source = ctx.get_parameter_source(name)
    return None if source is not None and source.name == "ENVIRONMENT" else value


@contextmanager
def cli_errors(console: Console | None = None) -> Iterator[None]:
    """The CLI boundary: expected errors become one line on stderr and an exit code.

    Input errors exit 2, AWS, runtime and file errors 1, Ctrl-C 130 and a signal n 128 + n;
    never a traceback.
    """
    del console  # kept for the commands' symmetry; the one line goes through typer
    try:
        yield
    except PcrInputError as err:
        fail(str(err), EXIT_USAGE)
    except PcrError as err:
        fail(str(err), EXIT_FAILED)
    except (BotoCoreError, ClientError) as err:  # e.g. no credentials or no region configured
        fail(str(err), EXIT_FAILED)
    except (click.exceptions.Abort, typer.Abort):
        fail("aborted", EXIT_FAILED)
    except InterruptedBySignal as err:
        fail(str(err), err.exit_code)
    except KeyboardInterrupt:
        fail("interrupted", EXIT_INTERRUPTED)
    except OSError as err:  # e.g. the local account's directory cannot be written
        fail(str(err), EXIT_FAILED)
