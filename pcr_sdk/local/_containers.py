"""Attempts as containers, on the runtime the backend names: `docker` or `podman`.

The runtime is the CLI the settings name (`LocalBackend(containers="podman")`, `--containers
podman`); pcr-sdk never picks one because it is on PATH. `docker` is the docker CLI, whichever
engine it talks to (`DOCKER_HOST` may point it at podman's socket); `podman` the podman CLI.

Each attempt is `create` (its options below), `start --attach` (its output to the attempt's log
stream), `inspect` and `rm`: no `--rm`, so the exit code is read from the container itself,
whatever `--rm` does on the runtime at hand (over podman's Docker-compatible socket, `docker run
--rm` exits 0 for a container that exited 3 or was killed). The container gets:

- the job's MEMORY as its memory limit with no swap beyond it (`--memory` = `--memory-swap`),
  its VCPU as a CPU limit (`--cpus`), its GPUs (docker `--gpus N`; podman, which has no
  `--gpus` before 5.0, every GPU through CDI, `--device nvidia.com/gpu=all`);
- the command of the submission, the backend or the definition (`Ref::` parameters
  substituted); with none, the image's own ENTRYPOINT, CMD and working directory;
- the job's environment in an env file (mode 0600, never on a command line `ps` shows);
- the host network on Linux (the endpoint is on loopback); on macOS, where a container cannot
  reach the host's loopback that way, the default network and `host.docker.internal`;
- `readonlyRootFilesystem`, `ulimits`, `linuxParameters` `initProcessEnabled`,
  `sharedMemorySize` and `tmpfs` as ECS applies them.

Settings that reach this machine (`privileged`, `user`, host volumes and their `mountPoints`,
`linuxParameters.devices`) fail the attempt unless the backend was started with
`host_access=True`. Stopping an attempt is as on ECS: SIGTERM to the container's PID 1 (`kill
--signal SIGTERM`), SIGKILL after the grace period. Every container carries two labels: the
backend's id, and its owner (host, process id and start time); a backend removes its own at
close and, at start, those of owners that are no longer running. If the backend's process is
SIGKILLed, its supervisor removes the running ones; only a SIGKILL of both leaves containers,
which the next backend's start removes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final, Literal

from pcr_sdk._private.wire import facts
from pcr_sdk.local._docker import (
    EnvironmentFileError,
    ImageReferenceError,
    check_reference,
    write_env_file,
)
from pcr_sdk.local._process import (
    ContainerRun,
    JobWiring,
    LaunchError,
    LineSink,
    ProcessExit,
    ProcessHandle,
    PullError,
    configured_command,
    exit_status,
    inherited_environment,
    start_reader,
)
from pcr_sdk.local._supervisor import Supervisor

logger = logging.getLogger(__name__)

ContainerRuntime = Literal["docker", "podman"]
"""The container CLIs the local backend can run attempts with."""
RUNTIMES: Final[tuple[ContainerRuntime, ...]] = ("docker", "podman")
LABEL_BACKEND: Final = "io.pcr-sdk.local.backend"
LABEL_OWNER: Final = "io.pcr-sdk.local.owner"
MAC_HOST: Final = "host.docker.internal"
"""How a container reaches the host on macOS (Docker Desktop, podman machine)."""
_CLI_PREFIXES: Final = ("DOCKER_", "CONTAINER_", "CONTAINERS_", "XDG_", "REGISTRY_AUTH_FILE")
_CREATE_SECONDS: Final = 600.0
"""`create` may pull the image first."""
_CLI_SECONDS: Final = 60.0
_READER_JOIN_SECONDS: Final = 5.0
_NEVER_STARTED: Final = "0001-01-01"
_ARCHITECTURES: Final = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "arm",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
}
_STATE_FORMAT: Final = (
    "{{.State.ExitCode}} {{.State.OOMKilled}} {{.State.Running}} {{.State.StartedAt}}"
)


class ContainerRuntimeError(RuntimeError):
    """The named container runtime cannot be used: its CLI is missing or does not answer."""


class HostAccessError(LaunchError):
    """A job definition asks for a setting that reaches this machine, without the opt-in."""


@dataclass(frozen=True)
class Completed:
    """A finished CLI command."""

    code: int
    out: str
    err: str


Cli = Callable[[Sequence[str], float], Completed]
"""Runs a container CLI command (argv, timeout); injectable in tests."""


def check_runtime(value: object) -> ContainerRuntime | None:
    """`value` as a runtime name (None: no containers).

    Args:
        value: "docker", "podman" or None.

    Returns:
        The runtime, or None.

    Raises:
        ValueError: neither "docker" nor "podman".
    """
    if value is None:
        return None
    if value == "docker":
        return "docker"
    if value == "podman":
        return "podman"
    raise ValueError(
        f"containers must be 'docker' or 'podman' (or None for processes), not {value!r}"
    )


def host_architecture(machine: str | None = None) -> str:
    """This machine's CPU architecture as image manifests name it (`amd64`, `arm64`, ...)."""
    found = (machine if machine is not None else platform.machine()).lower()
    return _ARCHITECTURES.get(found, found)


def owner_label(pid: int | None = None, stat_root: str = "/proc") -> str:
    """`host/pid/start`: names this process for good (a pid alone may be reused)."""
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}/{pid}/{_start_ticks(pid, stat_root)}"


def _start_ticks(pid: int, stat_root: str) -> str:
    try:
        data = Path(f"{stat_root}/{pid}/stat").read_bytes()
    except OSError:
        return "0"
    fields = data[data.rfind(b")") + 2 :].split()
    return fields[19].decode() if len(fields) > 19 else "0"


def owner_alive(owner: str, stat_root: str = "/proc") -> bool:
    """Whether the backend process an owner label names still runs (other hosts: assumed so)."""
    host, _, rest = owner.partition("/")
    pid_text, _, start = rest.partition("/")
    if host != socket.gethostname() or not pid_text.isdigit():
        return True
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return start in ("", "0") or _start_ticks(pid, stat_root) == start


def host_settings(properties: Mapping[str, Any]) -> list[str]:
    """The settings of `containerProperties` that reach this machine, described."""
    found: list[str] = []
    if properties.get("privileged"):
        found.append("privileged")
    if properties.get("user"):
        found.append(f"user {properties['user']}")
    for volume in _host_volumes(properties).values():
        found.append(f"host volume {volume}")
    devices = (properties.get("linuxParameters") or {}).get("devices") or []
    for device in devices:
        found.append(f"device {device.get('hostPath')}")
    return found


def _volumes(properties: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {
        str(volume.get("name")): volume
        for volume in properties.get("volumes") or []
        if isinstance(volume, Mapping)
    }


def _host_volumes(properties: Mapping[str, Any]) -> dict[str, str]:
    """Volume name -> host path, for the volumes that mount a host directory."""
    return {
        name: str(volume["host"]["sourcePath"])
        for name, volume in _volumes(properties).items()
        if isinstance(volume.get("host"), Mapping) and volume["host"].get("sourcePath")
    }


def container_options(
    run: ContainerRun, runtime: ContainerRuntime, *, host_access: bool
) -> list[str]:
    """The `create` options an attempt's definition and resources ask for.

    Args:
        run: the attempt.
        runtime: the CLI that creates the container.
        host_access: whether settings that reach this machine are allowed.

    Returns:
        The options, in the order `create` takes them.

    Raises:
        HostAccessError: a setting reaches this machine and `host_access` is off.
        LaunchError: a setting no local container can have (an EFS volume).
    """
    properties = run.properties
    reaching = host_settings(properties)
    if reaching and not host_access:
        raise HostAccessError(
            f"the job definition asks for {', '.join(reaching)}: settings that reach this "
            "machine, refused unless the backend allows them (LocalBackend(host_access=True), "
            "--host-access)"
        )
    memory = run.resources.memory_mib
    options = [f"--memory={memory}m", f"--memory-swap={memory}m"] if memory else []
    if run.resources.vcpus:
        options.append(f"--cpus={run.resources.vcpus:g}")
    if run.resources.gpus:
        options += (
            [f"--gpus={run.resources.gpus}"]
            if runtime == "docker"
            else ["--device=nvidia.com/gpu=all"]
        )
    if properties.get("privileged"):
        options.append("--privileged")
    if properties.get("user"):
        options.append(f"--user={properties['user']}")
    if properties.get("readonlyRootFilesystem"):
        options.append("--read-only")
    options += _mounts(properties)
    linux = properties.get("linuxParameters") or {}
    for device in linux.get("devices") or []:
        permissions = "".join(
            {"READ": "r", "WRITE": "w", "MKNOD": "m"}.get(str(p), "")
            for p in device.get("permissions") or ["READ", "WRITE", "MKNOD"]
        )
        target = device.get("containerPath") or device.get("hostPath")
        options.append(f"--device={device.get('hostPath')}:{target}:{permissions}")
    if linux.get("initProcessEnabled"):
        options.append("--init")
    if linux.get("sharedMemorySize"):
        options.append(f"--shm-size={int(linux['sharedMemorySize'])}m")
    for tmpfs in linux.get("tmpfs") or []:
        extra = ",".join(
            [f"size={int(tmpfs.get('size', 0))}m", *map(str, tmpfs.get("mountOptions") or [])]
        )
        options.append(f"--tmpfs={tmpfs.get('containerPath')}:{extra}")
    for limit in properties.get("ulimits") or []:
        options.append(
            f"--ulimit={limit.get('name')}={int(limit.get('softLimit'))}:{int(limit.get('hardLimit'))}"
        )
    return options


def _mounts(properties: Mapping[str, Any]) -> list[str]:
    volumes = _volumes(properties)
    host = _host_volumes(properties)
    options = []
    for mount in properties.get("mountPoints") or []:
        name = str(mount.get("sourceVolume"))
        target = str(mount.get("containerPath"))
        read_only = ":ro" if mount.get("readOnly") else ""
        if name in host:
            options.append(f"--volume={host[name]}:{target}{read_only}")
        elif name in volumes and volumes[name].get("efsVolumeConfiguration"):
            raise LaunchError(
                f"volume {name} is an EFS file system, which no local container mounts"
            )
        else:  # no host path: a volume the container runtime makes, as on ECS
            options.append(f"--volume={target}")
    return options


def container_name(run: ContainerRun) -> str:
    return f"pcr-local-{run.job_id.replace(':', '-')}-{run.attempt}"


def _run_cli(argv: Sequence[str], timeout: float, env: Mapping[str, str]) -> Completed:
    try:
        done = subprocess.run(
            list(argv),
            env=dict(env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Completed(124, "", f"{argv[0]} {argv[1]}: no answer in {timeout:g} s")
    except OSError as err:
        return Completed(127, "", f"{argv[0]}: {err.strerror or err}")
    return Completed(
        done.returncode,
        done.stdout.decode(errors="replace"),
        done.stderr.decode(errors="replace"),
    )


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


@dataclass(frozen=True)
class ContainerState:
    """What `inspect` tells of a container that stopped."""

    exit_code: int
    oom_killed: bool
    running: bool
    started: bool


def parse_state(text: str) -> ContainerState | None:
    """`inspect --format _STATE_FORMAT`'s line, or None if it is not one."""
    parts = text.strip().split(" ", 3)
    if len(parts) < 4 or not parts[0].lstrip("-").isdigit():
        return None
    return ContainerState(
        exit_code=int(parts[0]),
        oom_killed=parts[1] == "true",
        running=parts[2] == "true",
        started=not parts[3].startswith(_NEVER_STARTED),
    )


class ContainerLauncher:
    """Runs each attempt in a container of the named runtime (see the module docstring)."""

    def __init__(
        self,
        runtime: ContainerRuntime,
        command: Sequence[str] | Mapping[str, Sequence[str]] | None,
        wiring: JobWiring,
        supervisor: Supervisor | None,
        *,
        backend_id: str,
        host_access: bool = False,
        platform_name: str = sys.platform,
        parent_environ: Mapping[str, str] | None = None,
        cli: Cli | None = None,
        machine: str | None = None,
    ) -> None:
        self.runtime = runtime
        self._command = command
        self._wiring = wiring
        self._supervisor = supervisor
        self._backend_id = backend_id
        self._owner = owner_label()
        self._host_access = host_access
        self._mac = platform_name == "darwin"
        parent = os.environ if parent_environ is None else parent_environ
        self._cli_env = inherited_environment(parent, extra_prefixes=_CLI_PREFIXES)
        self._cli: Cli = cli or (lambda argv, timeout: _run_cli(argv, timeout, self._cli_env))
        self._program: str = runtime
        self._machine = host_architecture(machine)
        self._env_dir: Path | None = None
        self._architectures: dict[str, str | None] = {}
        self._lock = threading.Lock()

    # -- what the backend calls ----------------------------------------------------------------

    def endpoint_url(self) -> str:
        """The endpoint as containers reach it (macOS: through `host.docker.internal`)."""
        url = self._wiring.endpoint_url
        if not self._mac:
            return url
        port = url.rsplit(":", 1)[-1]
        return f"http://{MAC_HOST}:{port}"

    def network_options(self) -> list[str]:
        return [] if self._mac else ["--network=host"]

    def open(self) -> None:
        """Check that the runtime answers, remove dead backends' containers, make the env dir.

        Raises:
            ContainerRuntimeError: the CLI is not installed or does not answer.
        """
        found = shutil.which(self.runtime, path=self._cli_env.get("PATH", os.defpath))
        if found is None:
            raise ContainerRuntimeError(
                f"containers={self.runtime!r}: no {self.runtime} CLI on PATH"
            )
        self._program = found
        listed = self._cli(
            [found, "ps", "--all", "--quiet", f"--filter=label={LABEL_OWNER}"], _CLI_SECONDS
        )
        if listed.code != 0:
            raise ContainerRuntimeError(
                f"containers={self.runtime!r}: `{self.runtime} ps` failed: {_last_line(listed.err)}"
            )
        self._remove_leftovers(listed.out.split())
        if self._env_dir is None:
            self._env_dir = Path(tempfile.mkdtemp(prefix="pcr-local-env-"))  # mode 0700

    def close(self) -> None:
        """Remove every container of this backend still there, and the env files."""
        try:
            listed = self._cli(
                [
                    self._program,
                    "ps",
                    "--all",
                    "--quiet",
                    f"--filter=label={LABEL_BACKEND}={self._backend_id}",
                ],
                _CLI_SECONDS,
            )
            if listed.code == 0 and listed.out.split():
                self._cli([*self._remove_argv(), *listed.out.split()], _CLI_SECONDS)
        finally:
            env_dir, self._env_dir = self._env_dir, None
            if env_dir is not None:
                shutil.rmtree(env_dir, ignore_errors=True)

    def _remove_leftovers(self, ids: list[str]) -> None:
        if not ids:
            return
        owners = self._cli(
            [
                self._program,
                "inspect",
                f'--format={{{{.Id}}}} {{{{index .Config.Labels "{LABEL_OWNER}"}}}}',
                *ids,
            ],
            _CLI_SECONDS,
        )
        dead = []
        for line in owners.out.splitlines():
            container, _, owner = line.strip().partition(" ")
            if container and owner and not owner_alive(owner):
                dead.append(container)
        if dead:
            logger.info("removing %d container(s) left by local backends that died", len(dead))
            self._cli([*self._remove_argv(), *dead], _CLI_SECONDS)

    # -- one attempt -------------------------------------------------------------------------------

    def command(self, run: ContainerRun) -> tuple[str, ...] | None:
        return configured_command(self._command, run)

    def _remove_argv(self) -> list[str]:
        """`rm` that kills at once (podman's would first wait 10 s after SIGTERM)."""
        wait = ["--time=0"] if self.runtime == "podman" else []
        return [self._program, "rm", "--force", *wait]

    def env_file(self, run: ContainerRun) -> Path:
        """Where the attempt's env file goes: the launcher's private directory."""
        if self._env_dir is None:
            raise LaunchError("the local backend is not running")
        return self._env_dir / f"{container_name(run)}.env"

    def create_argv(self, run: ContainerRun) -> list[str]:
        """`create` for one attempt, and its env file written.

        Args:
            run: the attempt.

        Returns:
            The argv of `<runtime> create`.

        Raises:
            PullError: the image is not a Docker image reference.
            HostAccessError: a setting reaches this machine without the opt-in.
            LaunchError: an environment the env file cannot carry, or an EFS volume.
        """
        try:
            image = check_reference(run.image)
        except ImageReferenceError as err:
            raise PullError(str(err)) from err
        options = container_options(run, self.runtime, host_access=self._host_access)
        env_file = self.env_file(run)
        try:
            write_env_file(
                env_file, self._wiring.environment(run, endpoint_url=self.endpoint_url())
            )
        except EnvironmentFileError as err:
            raise LaunchError(str(err)) from err
        except OSError as err:
            raise LaunchError(f"cannot write {env_file}: {err.strerror or err}") from err
        return [
            self._program,
            "create",
            f"--name={container_name(run)}",
            f"--label={LABEL_BACKEND}={self._backend_id}",
            f"--label={LABEL_OWNER}={self._owner}",
            *self.network_options(),
            f"--env-file={env_file}",
            *options,
            "--",
            image,
            *(self.command(run) or ()),
        ]

    def start(self, run: ContainerRun, sink: LineSink) -> ProcessHandle:
        name = container_name(run)
        try:
            argv = self.create_argv(run)
        except BaseException:
            self._forget_env_file(run)
            raise
        self._warn_architecture(run.image)
        created = self._cli(argv, _CREATE_SECONDS)
        self._forget_env_file(run)  # the container holds its environment now
        if created.code != 0:
            message = f"{self.runtime} create: {_last_line(created.err)}"
            if self._architecture(run.image, refresh=True) is None:
                raise PullError(message)
            raise LaunchError(message)
        key = f"{run.job_id}#{run.attempt}"
        if self._supervisor is not None:
            self._supervisor.watch_container(key, [*self._remove_argv(), name])
        try:
            popen = subprocess.Popen(
                [self._program, "start", "--attach", name],
                env=self._cli_env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as err:
            self.remove(name, key)
            raise LaunchError(f"{self.runtime} start: {err.strerror or err}") from err
        return _ContainerProcess(self, name, key, popen, sink)

    # -- what a running attempt calls -----------------------------------------------------------

    def state(self, name: str) -> ContainerState | None:
        found = self._cli(
            [self._program, "inspect", f"--format={_STATE_FORMAT}", name], _CLI_SECONDS
        )
        return parse_state(found.out) if found.code == 0 else None

    def signal(self, name: str, number: signal.Signals) -> bool:
        """Send `number` to the container's PID 1; False if the runtime refused (not running)."""
        done = self._cli([self._program, "kill", f"--signal={number.name}", name], _CLI_SECONDS)
        return done.code == 0

    def wait_stopped(self, name: str) -> None:
        self._cli([self._program, "wait", name], _CLI_SECONDS)

    def remove(self, name: str, key: str) -> None:
        """Remove the attempt's container; the supervisor forgets it."""
        self._cli([*self._remove_argv(), name], _CLI_SECONDS)
        if self._supervisor is not None:
            self._supervisor.forget_container(key)

    def _forget_env_file(self, run: ContainerRun) -> None:
        if self._env_dir is not None:
            self.env_file(run).unlink(missing_ok=True)

    def _architecture(self, image: str, *, refresh: bool = False) -> str | None:
        with self._lock:
            if not refresh and image in self._architectures:
                return self._architectures[image]
        found = self._cli(
            [self._program, "image", "inspect", "--format={{.Architecture}}", image], _CLI_SECONDS
        )
        architecture = found.out.strip() or None if found.code == 0 else None
        with self._lock:
            self._architectures[image] = architecture
        return architecture

    def _warn_architecture(self, image: str) -> None:
        with self._lock:
            known = image in self._architectures
        if known:
            return
        architecture = self._architecture(image)
        if architecture is not None and architecture != self._machine:
            logger.warning(
                "image %s is built for %s and this machine is %s: it runs under emulation if "
                "at all, slower than on AWS, where an instance of its own architecture runs it",
                image,
                architecture,
                self._machine,
            )


class _ContainerProcess:
    """A container's `start --attach`, its output going to the attempt's log."""

    def __init__(
        self,
        launcher: ContainerLauncher,
        name: str,
        key: str,
        popen: subprocess.Popen[bytes],
        sink: LineSink,
    ) -> None:
        self._launcher = launcher
        self._name = name
        self._key = key
        self._popen = popen
        self._last = ""

        def keep(line: str) -> None:
            if line.strip():
                self._last = line.strip()
            sink(line)

        stdout: IO[bytes] | None = popen.stdout
        if stdout is None:  # pragma: no cover - always started with stdout=PIPE
            raise LaunchError("the container CLI has no stdout pipe")
        self._reader = start_reader(stdout, keep, f"pcr-local-log-{name}")

    def wait(self) -> ProcessExit:
        code = self._popen.wait()
        self._reader.join(_READER_JOIN_SECONDS)
        state = self._launcher.state(self._name)
        if state is not None and state.running:  # the CLI ended first: stop the container
            self._launcher.signal(self._name, signal.SIGKILL)
            self._launcher.wait_stopped(self._name)
            state = self._launcher.state(self._name)
        self._launcher.remove(self._name, self._key)
        if state is None:
            return ProcessExit(exit_status(code))
        if not state.started:
            return ProcessExit(
                None,
                f"{facts.CANNOT_START_CONTAINER}: {self._last or 'it did not start'}",
                facts.TASK_START_FAILED_REASON,
            )
        if state.oom_killed:
            return ProcessExit(facts.SIGKILL_EXIT_CODE, facts.OUT_OF_MEMORY_REASON)
        return ProcessExit(state.exit_code)

    def terminate(self) -> None:
        self._in_background(signal.SIGTERM)

    def kill(self) -> None:
        self._in_background(signal.SIGKILL)

    def _in_background(self, number: signal.Signals) -> None:
        def send() -> None:
            if self._launcher.signal(self._name, number) or self._popen.poll() is not None:
                return
            # not running yet: the CLI forwards it, or dies before starting the container
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._popen.pid, number)

        threading.Thread(
            target=send, name=f"pcr-local-{number.name}-{self._name}", daemon=True
        ).start()
