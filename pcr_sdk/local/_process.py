"""How one job attempt becomes a process on this machine: argv, environment, output, signals.

Each attempt runs in its own process group (a new session), under the supervisor of `_spawn`,
so a signal reaches everything the job started, like stopping a container does. When the main
process exits, the rest of its group is killed too: on AWS Batch a job ends when its essential
container's main process does. Stopping an attempt is SIGTERM to the group, then SIGKILL.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final, Protocol

from pcr_sdk.local._credentials import LocalCredentials
from pcr_sdk.local._docker import (
    EnvironmentFileError,
    ImageReferenceError,
    docker_argv,
    write_env_file,
)
from pcr_sdk.local._spawn import Spawner, SpawnerClosed, supervised

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
_DOCKER_CLI_PREFIXES: Final = ("DOCKER_",)
_READER_JOIN_SECONDS: Final = 5.0
MAX_LINE_BYTES: Final = 256 * 1024
"""A job's output line longer than this is logged as several (CloudWatch Logs' event limit)."""


class LaunchError(Exception):
    """The attempt's process could not be started (AWS: CannotStartContainerError)."""

    reason = "CannotStartContainerError"
    """The container reason AWS gives such an attempt."""


class PullError(LaunchError):
    """The attempt's image cannot be had (AWS: CannotPullContainerError)."""

    reason = "CannotPullContainerError"


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
    """`containerProperties.command` of the job definition, if any."""
    environment: Mapping[str, str]
    """The job definition's environment, the overrides, then the AWS_BATCH_* variables."""


class ProcessHandle(Protocol):
    """A started attempt."""

    def wait(self) -> int:
        """Block until the process exits and its output is delivered; the exit code."""
        ...

    def terminate(self) -> None:
        """SIGTERM to the attempt's processes, giving them a chance to shut down (idempotent)."""
        ...

    def kill(self) -> None:
        """SIGKILL to the attempt's processes (idempotent, also after exit)."""
        ...


class Launcher(Protocol):
    """Turns an attempt into a running process whose output lines go to `sink`."""

    def start(self, run: ContainerRun, sink: LineSink) -> ProcessHandle: ...


def exit_status(returncode: int) -> int:
    """Popen's return code as a container reports it: killed by signal N -> 128 + N."""
    return 128 - returncode if returncode < 0 else returncode


class _Subprocess:
    """A Popen in its own process group, with a thread copying its output lines to a sink."""

    def __init__(
        self,
        popen: subprocess.Popen[bytes],
        sink: LineSink,
        *,
        on_kill: Callable[[], None] | None,
        on_exit: Callable[[], None] | None = None,
    ) -> None:
        self._popen = popen
        self._lock = threading.Lock()
        self._reaped = False
        self._on_kill = on_kill
        self._on_exit = on_exit
        stdout = popen.stdout
        if stdout is None:  # pragma: no cover - always started with stdout=PIPE
            raise LaunchError("the process has no stdout pipe")
        self._reader = threading.Thread(
            target=self._read, args=(stdout, sink), name=f"pcr-local-log-{popen.pid}", daemon=True
        )
        self._reader.start()

    @staticmethod
    def _read(stream: IO[bytes], sink: LineSink) -> None:
        with stream:
            # A line longer than MAX_LINE_BYTES is cut into several: memory stays bounded.
            for raw in iter(lambda: stream.readline(MAX_LINE_BYTES), b""):
                sink(raw.decode("utf-8", errors="replace").rstrip("\r\n"))

    def wait(self) -> int:
        pid = self._popen.pid
        if hasattr(os, "waitid"):
            # Wait for the exit without reaping: the group id cannot be reused while the leader
            # is a zombie, so killing the rest of the group below cannot hit a stranger.
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
            self._kill_group()
            with self._lock:
                code = self._popen.wait()
                self._reaped = True
        else:  # pragma: no cover - platforms without waitid
            code = self._popen.wait()
            with self._lock:
                self._reaped = True
        self._reader.join(_READER_JOIN_SECONDS)
        if self._reader.is_alive():  # a process outside the group still holds the pipe
            logger.warning("process %s exited but its output pipe is still open", pid)
        if self._on_exit is not None:
            self._on_exit()
        return exit_status(code)

    def _signal_group(self, number: int) -> None:
        with self._lock:
            if self._reaped:
                return
            try:
                os.killpg(self._popen.pid, number)
            except ProcessLookupError:
                pass
            except PermissionError:  # pragma: no cover - a group member changed its credentials
                logger.warning("could not signal every process of group %s", self._popen.pid)

    def _kill_group(self) -> None:
        self._signal_group(signal.SIGKILL)

    def terminate(self) -> None:
        # With docker, the CLI in the group forwards SIGTERM to its container (sig-proxy).
        self._signal_group(signal.SIGTERM)

    def kill(self) -> None:
        if self._on_kill is not None:
            self._on_kill()
        self._kill_group()


def container_name(run: ContainerRun) -> str:
    return f"pcr-local-{run.job_id.replace(':', '-')}-{run.attempt}"


class LocalLauncher:
    """Runs attempts as local processes (or `docker run`), wired to the backend's endpoint."""

    def __init__(
        self,
        command: Sequence[str] | Mapping[str, Sequence[str]] | None,
        *,
        endpoint_url: str,
        credentials: LocalCredentials,
        region: str,
        docker: bool = False,
        cwd: str | os.PathLike[str] | None = None,
        extra_env: Mapping[str, str] | None = None,
        parent_environ: Mapping[str, str] | None = None,
    ) -> None:
        self._spawner = Spawner()
        self._command = command
        self._endpoint_url = endpoint_url
        self._credentials = credentials
        self._region = region
        self._env_dir: Path | None = None
        self._docker = docker
        self._cwd = cwd
        self._extra_env = dict(extra_env or {})
        self._parent_environ = parent_environ

    def command(self, run: ContainerRun) -> tuple[str, ...] | None:
        """The override if any, else the backend's command for the image, else the definition's."""
        if run.command:
            return run.command
        configured: Sequence[str] | None
        if isinstance(self._command, Mapping):
            configured = self._command.get(run.image)
        else:
            configured = self._command
        if configured:
            return tuple(configured)
        return run.definition_command or None

    def job_environment(self, run: ContainerRun) -> dict[str, str]:
        """What the job sees besides the inherited basics: its variables and the local wiring."""
        env = {"PYTHONUNBUFFERED": "1"}  # keeps stdout and stderr lines in order in the log
        env.update(run.environment)
        env.update(
            {
                "AWS_ENDPOINT_URL": self._endpoint_url,
                **self._credentials.environment(),
                "AWS_DEFAULT_REGION": self._region,
                "AWS_REGION": self._region,
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                "AWS_EC2_METADATA_DISABLED": "true",
            }
        )
        env.update(self._extra_env)
        return env

    def env_file(self, run: ContainerRun) -> Path:
        """Where the attempt's env file goes (docker only): the launcher's private directory."""
        if self._env_dir is None:
            raise LaunchError("the local backend is not running")
        return self._env_dir / f"{container_name(run)}.env"

    def argv_and_env(self, run: ContainerRun) -> tuple[list[str], dict[str, str]]:
        """The argv to execute and the environment of that process.

        With docker this writes the attempt's env file (`env_file(run)`).

        Raises:
            LaunchError: no command to run, or an environment docker cannot pass.
            PullError: the image is not a Docker image reference.
        """
        parent = os.environ if self._parent_environ is None else self._parent_environ
        command = self.command(run)
        if self._docker:
            env_file = self.env_file(run)
            try:
                argv = docker_argv(run.image, command, env_file=env_file, name=container_name(run))
            except ImageReferenceError as err:
                raise PullError(str(err)) from err
            try:
                write_env_file(env_file, self.job_environment(run))
            except EnvironmentFileError as err:
                raise LaunchError(str(err)) from err
            except OSError as err:
                raise LaunchError(f"cannot write {env_file}: {err.strerror or err}") from err
            return argv, inherited_environment(parent, extra_prefixes=_DOCKER_CLI_PREFIXES)
        if not command:
            raise LaunchError(
                f"no local command for image {run.image!r}: pass LocalBackend(command=[...]) "
                "or a mapping image -> argv, or submit with containerOverrides.command"
            )
        env = inherited_environment(parent)
        env.update(self.job_environment(run))
        return list(command), env

    def open(self) -> None:
        """Start the thread that starts every attempt's process (and, for docker, make the
        private directory of the env files)."""
        if self._docker and self._env_dir is None:
            self._env_dir = Path(tempfile.mkdtemp(prefix="pcr-local-env-"))  # mode 0700
        self._spawner.start()

    def close(self) -> None:
        """Stop that thread; call it once every attempt has ended."""
        self._spawner.close()
        env_dir, self._env_dir = self._env_dir, None
        if env_dir is not None:
            shutil.rmtree(env_dir, ignore_errors=True)

    def start(self, run: ContainerRun, sink: LineSink) -> ProcessHandle:
        argv, env = self.argv_and_env(run)
        forget = self._forget_env_file(run) if self._docker else None
        try:
            return self._start(run, argv, env, sink, forget)
        except BaseException:
            if forget is not None:
                forget()
            raise

    def _forget_env_file(self, run: ContainerRun) -> Callable[[], None]:
        path = self.env_file(run)
        return lambda: path.unlink(missing_ok=True)

    def _start(
        self,
        run: ContainerRun,
        argv: list[str],
        env: dict[str, str],
        sink: LineSink,
        on_exit: Callable[[], None] | None,
    ) -> ProcessHandle:
        program = self._resolve(argv[0], env)
        logger.debug("job %s attempt %d: starting %s", run.job_id, run.attempt, argv)
        try:
            popen = self._spawner.popen(
                supervised(program, argv),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self._cwd,
                start_new_session=True,
            )
        except SpawnerClosed as err:
            raise LaunchError(str(err)) from err
        except OSError as err:
            raise LaunchError(f"{argv[0]}: {err.strerror or err}") from err
        on_kill = self._docker_kill(container_name(run)) if self._docker else None
        return _Subprocess(popen, sink, on_kill=on_kill, on_exit=on_exit)

    def _resolve(self, program: str, env: Mapping[str, str]) -> str:
        """The executable `program` names, found as exec would (the job's PATH, its cwd)."""
        if os.sep in program:
            base = os.fspath(self._cwd) if self._cwd is not None else os.getcwd()
            candidate = os.path.join(base, program)
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                return candidate
        else:
            found = shutil.which(program, path=env.get("PATH", os.defpath))
            if found is not None:
                return found
        raise LaunchError(f"{program}: executable file not found")

    @staticmethod
    def _docker_kill(name: str) -> Callable[[], None]:
        def kill() -> None:
            # SIGKILL to the docker CLI does not stop its container; ask the daemon.
            subprocess.run(
                ["docker", "kill", name],  # noqa: S607 - docker is found on PATH like the run
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
                timeout=30,
            )

        return kill
