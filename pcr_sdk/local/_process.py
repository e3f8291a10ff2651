"""How one job attempt becomes processes on this machine: argv, environment, output, ending.

In process mode (the default) every attempt runs under the backend's one supervisor
(`_supervisor`, `_reaper`): in a session of its own, its stdout and stderr on a pipe whose lines
go to the attempt's log stream, its resident memory watched against the job's MEMORY. When its
main process exits, whatever it started is killed, as when a container's PID 1 exits on AWS
Batch. Stopping an attempt is SIGTERM to its process group, then SIGKILL to every process of
it. Containers (`_containers`) take the same `ContainerRun`.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, Final, Protocol

from pcr_sdk._private.wire import facts
from pcr_sdk.local._capacity import Resources
from pcr_sdk.local._credentials import LocalCredentials
from pcr_sdk.local._supervisor import Spawn, Supervised, Supervisor, SupervisorError

logger = logging.getLogger(__name__)

LineSink = Callable[[str], None]

# What a job inherits from this process: enough to find programs, Python and a locale. Nothing
# AWS_* (real credentials or profiles must never reach a local job), no proxies (loopback only).
_INHERITED: Final = frozenset(
    {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TERM",
        "TMPDIR",
        "TEMP",
        "TMP",
        "VIRTUAL_ENV",
        "CONDA_PREFIX",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "SYSTEMROOT",
        "COMSPEC",
        "PATHEXT",
    }
)
_INHERITED_PREFIXES: Final = ("LC_", "PYTHON")
_READER_JOIN_SECONDS: Final = 5.0
MAX_LINE_BYTES: Final = 256 * 1024
"""A job's output line longer than this is logged as several (CloudWatch Logs' event limit)."""


class LaunchError(Exception):
    """The attempt's process could not be started (AWS: CannotStartContainerError)."""

    reason = facts.CANNOT_START_CONTAINER
    """The container reason AWS gives such an attempt."""


class PullError(LaunchError):
    """The attempt's image cannot be had (AWS: CannotPullContainerError)."""

    reason = facts.CANNOT_PULL_CONTAINER


def inherited_environment(
    environ: Mapping[str, str], *, extra_prefixes: Sequence[str] = ()
) -> dict[str, str]:
    """The basics of `environ` a local job needs; every AWS_* variable is left out."""
    prefixes = (*_INHERITED_PREFIXES, *extra_prefixes)
    return {
        name: value
        for name, value in environ.items()
        if not name.startswith("AWS_") and (name in _INHERITED or name.startswith(prefixes))
    }


@dataclass(frozen=True)
class ContainerRun:
    """One attempt as AWS Batch would hand it to a container."""

    job_id: str
    attempt: int
    image: str
    command: tuple[str, ...] | None
    """`containerOverrides.command` of the submission, if any."""
    definition_command: tuple[str, ...] | None
    """`containerProperties.command` of the job definition, `Ref::` parameters substituted."""
    environment: Mapping[str, str]
    """The job definition's environment, the overrides, then the AWS_BATCH_* variables."""
    resources: Resources = field(default_factory=Resources)
    """Its vCPUs, MEMORY (MiB) and GPUs, overrides applied."""
    properties: Mapping[str, Any] = field(default_factory=dict)
    """The job definition's `containerProperties` (user, privileged, volumes, ...)."""


@dataclass(frozen=True)
class ProcessExit:
    """How an attempt's process (or container) ended, as DescribeJobs shows it."""

    code: int | None
    """The exit code, 128 + n for a signal n; None when it never ran."""
    reason: str | None = None
    """`container.reason` (e.g. AWS's OutOfMemoryError)."""
    status_reason: str = facts.CONTAINER_EXITED_REASON


class ProcessHandle(Protocol):
    """A started attempt."""

    def wait(self) -> ProcessExit:
        """Block until the attempt ended and its output is delivered; how it ended."""
        ...

    def terminate(self) -> None:
        """SIGTERM, giving the job a chance to shut down (idempotent)."""
        ...

    def kill(self) -> None:
        """SIGKILL to every process of the attempt (idempotent, also after exit)."""
        ...


class Launcher(Protocol):
    """Turns an attempt into a running process whose output lines go to `sink`."""

    def start(self, run: ContainerRun, sink: LineSink) -> ProcessHandle: ...


def exit_status(returncode: int) -> int:
    """Popen's return code as a container reports it: killed by signal N -> 128 + N."""
    return facts.SIGNAL_EXIT_BASE - returncode if returncode < 0 else returncode


def read_lines(stream: IO[bytes], sink: LineSink) -> None:
    """Copy `stream`'s lines to `sink` until EOF; a line over MAX_LINE_BYTES becomes several."""
    with stream:
        for raw in iter(lambda: stream.readline(MAX_LINE_BYTES), b""):
            sink(raw.decode("utf-8", errors="replace").rstrip("\r\n"))


def start_reader(stream: IO[bytes], sink: LineSink, name: str) -> threading.Thread:
    reader = threading.Thread(target=read_lines, args=(stream, sink), name=name, daemon=True)
    reader.start()
    return reader


@dataclass(frozen=True)
class JobWiring:
    """What every job gets to reach the backend: its endpoint, keys and region."""

    endpoint_url: str
    credentials: LocalCredentials
    region: str
    extra_env: Mapping[str, str] = field(default_factory=dict)

    def environment(self, run: ContainerRun, *, endpoint_url: str | None = None) -> dict[str, str]:
        """What the job sees besides the inherited basics: its variables and the local wiring."""
        env = {"PYTHONUNBUFFERED": "1"}  # keeps stdout and stderr lines in order in the log
        env.update(run.environment)
        env.update(
            {
                "AWS_ENDPOINT_URL": endpoint_url or self.endpoint_url,
                **self.credentials.environment(),
                "AWS_DEFAULT_REGION": self.region,
                "AWS_REGION": self.region,
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                "AWS_EC2_METADATA_DISABLED": "true",
            }
        )
        env.update(self.extra_env)
        return env


def configured_command(
    command: Sequence[str] | Mapping[str, Sequence[str]] | None, run: ContainerRun
) -> tuple[str, ...] | None:
    """The override if any, else the backend's command for the image, else the definition's."""
    if run.command:
        return run.command
    configured = command.get(run.image) if isinstance(command, Mapping) else command
    if configured:
        return tuple(configured)
    return run.definition_command or None


def no_command_message(image: str) -> str:
    """Why an image without a command cannot run as a process, and what to do instead."""
    return (
        f"no command to run for image {image!r}: the job definition has none and a process "
        "cannot run an image's own ENTRYPOINT/CMD. Map a command to the image "
        f"(LocalBackend(command={{{image!r}: [...]}}), or `--image {image} --command ...`), "
        "or run it in a container (LocalBackend(containers='docker' or 'podman'), "
        "`--containers docker|podman`)"
    )


class _SupervisedProcess:
    """An attempt under the supervisor, with the thread copying its output to its log."""

    def __init__(self, attempt: Supervised, reader: threading.Thread) -> None:
        self._attempt = attempt
        self._reader = reader

    def wait(self) -> ProcessExit:
        ended = self._attempt.wait()
        self._reader.join(_READER_JOIN_SECONDS)
        if self._reader.is_alive():  # an orphan nobody can place still holds the pipe
            logger.warning("attempt %s ended but its output pipe is still open", self._attempt.key)
        if ended.code is None:
            return ProcessExit(None, "InternalError: the local supervisor exited")
        if ended.oom:
            return ProcessExit(facts.SIGKILL_EXIT_CODE, facts.OUT_OF_MEMORY_REASON)
        return ProcessExit(ended.code)

    def terminate(self) -> None:
        self._attempt.signal(signal.SIGTERM)

    def kill(self) -> None:
        self._attempt.kill()


class LocalLauncher:
    """Runs attempts as local processes under the backend's supervisor."""

    def __init__(
        self,
        command: Sequence[str] | Mapping[str, Sequence[str]] | None,
        wiring: JobWiring,
        supervisor: Supervisor,
        *,
        cwd: str | os.PathLike[str] | None = None,
        parent_environ: Mapping[str, str] | None = None,
    ) -> None:
        self._command = command
        self._wiring = wiring
        self._supervisor = supervisor
        self._cwd = os.fspath(cwd) if cwd is not None else None
        self._parent_environ = parent_environ

    def command(self, run: ContainerRun) -> tuple[str, ...] | None:
        """The override if any, else the backend's command for the image, else the definition's."""
        return configured_command(self._command, run)

    def argv_and_env(self, run: ContainerRun) -> tuple[list[str], dict[str, str]]:
        """The argv to execute and the environment of that process.

        Args:
            run: the attempt.

        Returns:
            The argv and the environment.

        Raises:
            LaunchError: no command to run.
        """
        parent = os.environ if self._parent_environ is None else self._parent_environ
        command = self.command(run)
        if not command:
            raise LaunchError(no_command_message(run.image))
        env = inherited_environment(parent)
        env.update(self._wiring.environment(run))
        return list(command), env

    def open(self) -> None:
        """Nothing to prepare (the backend opens the supervisor)."""

    def close(self) -> None:
        """Nothing to release."""

    def start(self, run: ContainerRun, sink: LineSink) -> ProcessHandle:
        argv, env = self.argv_and_env(run)
        program = self._resolve(argv[0], env)
        logger.debug("job %s attempt %d: starting %s", run.job_id, run.attempt, argv)
        key = f"{run.job_id}#{run.attempt}"
        memory = run.resources.memory_mib or None
        read_end, write_end = os.pipe()
        try:
            attempt = self._supervisor.start(
                Spawn(
                    key=key,
                    program=program,
                    argv=argv,
                    env=env,
                    cwd=self._cwd,
                    memory_mib=memory,
                    marker={
                        facts.ENV_JOB_ID: run.job_id,
                        facts.ENV_JOB_ATTEMPT: str(run.attempt),
                    },
                ),
                write_end,  # closed by start
            )
        except SupervisorError as err:
            os.close(read_end)
            raise LaunchError(str(err)) from err
        reader = start_reader(os.fdopen(read_end, "rb"), sink, f"pcr-local-log-{attempt.pid}")
        return _SupervisedProcess(attempt, reader)

    def _resolve(self, program: str, env: Mapping[str, str]) -> str:
        """The executable `program` names, found as exec would (the job's PATH, its cwd)."""
        if os.sep in program:
            base = self._cwd if self._cwd is not None else os.getcwd()
            candidate = os.path.join(base, program)
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                return candidate
        else:
            found = shutil.which(program, path=env.get("PATH", os.defpath))
            if found is not None:
                return found
        raise LaunchError(f"{program}: executable file not found")
