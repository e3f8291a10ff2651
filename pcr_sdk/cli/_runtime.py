"""What the commands take from the outside world, injectable through typer's context object.

Nothing here creates a client or starts a backend at import time: `Runtime`'s factories run
inside a command. Tests pass `obj=Runtime(aws_clients=lambda region: world.clients, ...)` to
`CliRunner.invoke`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn, Protocol

import boto3
import click
import typer
from botocore.exceptions import BotoCoreError, ClientError

from pcr_sdk._private.clients import AwsClients
from pcr_sdk._private.errors import PcrError, PcrInputError
from pcr_sdk._private.governor import Clock, Sleep

if TYPE_CHECKING:
    from rich.console import Console

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class LocalEnvironment(Protocol):
    """What a running local backend offers a command (`pcr_sdk.local.LocalBackend` has it)."""

    @property
    def clients(self) -> AwsClients: ...

    @property
    def bucket(self) -> str: ...

    @property
    def queue(self) -> str: ...


@dataclass(frozen=True)
class LocalOptions:
    """How to start the local backend: the job command and how many jobs run at once."""

    command: Sequence[str] | None
    max_parallel: int | None = None
    docker: bool = False


ClientFactory = Callable[[str | None], AwsClients]
BackendFactory = Callable[[LocalOptions], AbstractContextManager[LocalEnvironment]]


def aws_clients_for_region(region: str | None) -> AwsClients:
    """Real AWS clients from the default credential chain, in `region` (or the configured one)."""
    return AwsClients.from_session(boto3.Session(region_name=region))


def start_local_backend(options: LocalOptions) -> AbstractContextManager[LocalEnvironment]:
    """pcr-sdk's embedded local backend (imported here: it needs the `local` extra)."""
    from pcr_sdk.local import LocalBackend  # noqa: PLC0415 - optional dependency, loaded on use

    return LocalBackend(options.command, max_parallel=options.max_parallel, docker=options.docker)


@dataclass(frozen=True)
class Runtime:
    """The collaborators of every command, with working defaults."""

    aws_clients: ClientFactory = aws_clients_for_region
    local_backend: BackendFactory = start_local_backend
    sleep: Sleep = time.sleep
    clock: Clock = time.monotonic


def runtime_of(ctx: typer.Context) -> Runtime:
    """The `Runtime` passed as typer's context object, or the default one."""
    found = ctx.find_object(Runtime)
    return found if found is not None else Runtime()


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    """Print a one-line error to stderr and end the command with `code`."""
    typer.echo(f"pcr: error: {message}", err=True)
    raise typer.Exit(code)


@contextmanager
def cli_errors(console: Console | None = None) -> Iterator[None]:
    """The CLI boundary: expected errors become one line on stderr and an exit code.

    Input errors exit 2, AWS and runtime errors 1, Ctrl-C 130; never a traceback.
    """
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
    except KeyboardInterrupt:
        if console is not None:
            console.print("[yellow]interrupted[/]")
        fail("interrupted", EXIT_INTERRUPTED)
