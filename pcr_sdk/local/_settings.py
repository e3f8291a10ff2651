"""A local backend's settings: one typed, frozen object, checked once (storable as it is)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from pcr_sdk._private.wire import facts
from pcr_sdk.local._containers import ContainerRuntime, check_runtime
from pcr_sdk.local._supervisor import DEFAULT_SAMPLE_SECONDS

Command = tuple[str, ...] | Mapping[str, tuple[str, ...]] | None
"""One argv for every image, or an argv per image, or none (the definitions' commands)."""
_LOOPBACK: Final = "127.0.0.1"


def check_command(
    command: Sequence[str] | Mapping[str, Sequence[str]] | None,
) -> Command:
    """`command` as a tuple (or a mapping of tuples).

    Args:
        command: one argv, an argv per image, or None.

    Returns:
        The command with tuples for lists.

    Raises:
        TypeError: an argv that is not a list of strings.
        ValueError: an empty argv.
    """

    def argv(value: object) -> tuple[str, ...]:
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise TypeError(f"a command is an argv list of strings, not {value!r}")
        if not all(isinstance(part, str) for part in value):
            raise TypeError(f"a command is an argv list of strings, not {value!r}")
        if not value:
            raise ValueError("a command must not be empty")
        return tuple(value)

    if command is None:
        return None
    if isinstance(command, Mapping):
        return {str(image): argv(value) for image, value in command.items()}
    return argv(command)


@dataclass(frozen=True)
class ExecutionSettings:
    """How the backend runs a job attempt: which command, where, in what."""

    command: Command = None
    containers: ContainerRuntime | None = None
    """None: every attempt is a process here; "docker" or "podman": a container of that CLI."""
    host_access: bool = False
    """Containers may have settings that reach this machine (privileged, host volumes, ...)."""
    cwd: str | None = None
    """The working directory of job processes (None: the backend's); unused by containers."""
    extra_env: Mapping[str, str] = field(default_factory=dict)
    timeout_scale: float = 1.0
    grace_seconds: float = facts.TERMINATION_GRACE_SECONDS
    memory_sample_seconds: float = DEFAULT_SAMPLE_SECONDS
    """How often a process-mode attempt's resident memory is summed against its MEMORY."""

    @classmethod
    def of(
        cls,
        command: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
        *,
        containers: object = None,
        host_access: bool = False,
        cwd: str | os.PathLike[str] | None = None,
        extra_env: Mapping[str, str] | None = None,
        timeout_scale: float = 1.0,
        grace_seconds: float = facts.TERMINATION_GRACE_SECONDS,
        memory_sample_seconds: float = DEFAULT_SAMPLE_SECONDS,
    ) -> ExecutionSettings:
        """Checked settings.

        Args:
            command: as for `LocalBackend`.
            containers: as for `LocalBackend`.
            host_access: as for `LocalBackend`.
            cwd: as for `LocalBackend`.
            extra_env: as for `LocalBackend`.
            timeout_scale: as for `LocalBackend`.
            grace_seconds: as for `LocalBackend`.
            memory_sample_seconds: how often a process-mode attempt's memory is summed.

        Returns:
            The settings.

        Raises:
            TypeError: a command that is not an argv list of strings.
            ValueError: an empty command, an unknown runtime, `timeout_scale` or
                `memory_sample_seconds` not positive, `grace_seconds` negative.
        """
        if not timeout_scale > 0:
            raise ValueError(f"timeout_scale must be positive, got {timeout_scale}")
        if not grace_seconds >= 0:
            raise ValueError(f"grace_seconds must not be negative, got {grace_seconds}")
        if not memory_sample_seconds > 0:
            raise ValueError(f"memory_sample_seconds must be positive, got {memory_sample_seconds}")
        return cls(
            command=check_command(command),
            containers=check_runtime(containers),
            host_access=bool(host_access),
            cwd=os.fspath(cwd) if cwd is not None else None,
            extra_env=dict(extra_env or {}),
            timeout_scale=float(timeout_scale),
            grace_seconds=float(grace_seconds),
            memory_sample_seconds=float(memory_sample_seconds),
        )
