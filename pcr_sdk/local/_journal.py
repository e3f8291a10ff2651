"""The engine's state on disk: job definitions, jobs with their attempts, array children.

`<data_dir>/engine/journal.jsonl` is a versioned journal: a header line
(`{"format": "pcr-local-engine", "version": 1}`), then one JSON line per change, appended as the
change happens (under the engine's lock, one `write` each): a definition as registered or
changed (`definition`), a job as submitted with its array children implied (`job`), and a
job's state whenever it moves (`state`: status, reasons, times, attempts, flags, tags). The
last record of a job or definition wins. Opening the account reads the journal, then rewrites
it compacted (one record per definition and job) beside it and renames it over the old one.

A journal of another version is refused (`AccountFormatError`); a last line cut short (the
machine stopped mid-write) is dropped with a warning, any other damage refused.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

from pcr_sdk._private.wire.facts import JobStatus
from pcr_sdk.local._capacity import Resources
from pcr_sdk.local._files import (
    PRIVATE_FILE,
    AccountFormatError,
    dump_record,
    load_record,
    private_directory,
    write_atomically,
)
from pcr_sdk.local._model import Attempt, Definition, Job, add_array_children
from pcr_sdk.local._refusals import ServiceError
from pcr_sdk.local._retry import parse_retry_strategy

logger = logging.getLogger(__name__)

JOURNAL_DIRECTORY: Final = "engine"
JOURNAL_FILE: Final = "journal.jsonl"
FORMAT: Final = "pcr-local-engine"
VERSION: Final = 1


class JobJournal(Protocol):
    """What the engine tells its journal (under the engine's lock)."""

    def definition_changed(self, definition: Definition) -> None:
        """A definition was registered, deregistered or (un)tagged."""

    def job_submitted(self, job: Job) -> None:
        """A job was submitted (an array parent: its children too)."""

    def job_changed(self, job: Job) -> None:
        """A job's status, reasons, times, attempts, flags or tags changed."""


class NoJournal:
    """The journal of a temporary backend: nothing is kept."""

    def definition_changed(self, definition: Definition) -> None:
        del definition

    def job_submitted(self, job: Job) -> None:
        del job

    def job_changed(self, job: Job) -> None:
        del job


NO_JOURNAL: Final = NoJournal()


@dataclass
class KeptEngine:
    """The engine's state as the journal left it."""

    definitions: dict[str, list[Definition]] = field(default_factory=dict)
    """By name, each name's revisions in order (revision n at index n - 1)."""
    jobs: list[Job] = field(default_factory=list)
    """The top-level jobs (array children hang off their parents), in submission order."""
    last_write_ms: int = 0
    """When the journal was last written (its modification time), epoch ms."""

    def every_job(self) -> list[Job]:
        """Every job, children right after their parent: submission order."""
        return [each for job in self.jobs for each in (job, *job.children)]


# -- records -----------------------------------------------------------------------------------


def _definition_record(definition: Definition) -> dict[str, Any]:
    return {
        "r": "definition",
        "seq": definition.seq,
        "name": definition.name,
        "revision": definition.revision,
        "arn": definition.arn,
        "type": definition.type,
        "container": definition.container,
        "retry": definition.retry,
        "timeout": definition.timeout,
        "parameters": definition.parameters,
        "tags": definition.tags,
        "propagate_tags": definition.propagate_tags,
        "platform_capabilities": definition.platform_capabilities,
        "status": definition.status,
    }


def _attempt_record(attempt: Attempt) -> dict[str, Any]:
    return {
        "number": attempt.number,
        "task_arn": attempt.task_arn,
        "log_stream": attempt.log_stream,
        "started_at": attempt.started_at,
        "stopped_at": attempt.stopped_at,
        "exit_code": attempt.exit_code,
        "reason": attempt.reason,
        "status_reason": attempt.status_reason,
    }


def _state_record(job: Job) -> dict[str, Any]:
    current = job.current
    record: dict[str, Any] = {
        "r": "state",
        "id": job.job_id,
        "status": job.status.value,
        "status_reason": job.status_reason,
        "started_at": job.started_at,
        "stopped_at": job.stopped_at,
        "attempts": [_attempt_record(attempt) for attempt in job.attempts],
        "current": None if current is None else _attempt_record(current),
        "is_cancelled": job.is_cancelled,
        "is_terminated": job.is_terminated,
        "final_reason": job.final_reason,
        "terminate_reason": job.terminate_reason,
        "cancel_reason": job.cancel_reason,
        "blocked": job.blocked,
    }
    if job.parent is None:
        record["tags"] = job.tags
    return record


def _job_record(job: Job) -> dict[str, Any]:
    resources = job.resources
    return {
        "r": "job",
        "seq": job.seq,
        "id": job.job_id,
        "name": job.name,
        "arn": job.arn,
        "queue_arn": job.queue_arn,
        "definition": job.definition.arn,
        "created_at": job.created_at,
        "environment": job.environment,
        "command": None if job.command is None else list(job.command),
        "definition_command": (
            None if job.definition_command is None else list(job.definition_command)
        ),
        "parameters": job.parameters,
        "timeout_seconds": job.timeout_seconds,
        "retry": job.retry.describe(),
        "resources": [resources.vcpus, resources.memory_mib, resources.gpus],
        "container_resources": job.container_resources,
        "depends_on": job.depends_on,
        "propagate_tags": job.propagate_tags,
        "array_size": job.array_size,
        "prerequisites": [p.job_id for p in job.prerequisites],
        "n_to_n": [target.job_id for target in job.n_to_n],
        "sequential": job.sequential,
    }


def _line(record: dict[str, Any]) -> bytes:
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


# -- the journal -------------------------------------------------------------------------------


class EngineJournal:
    """Appends the engine's changes to `<data_dir>/engine/journal.jsonl`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory / JOURNAL_DIRECTORY
        self.path = self.directory / JOURNAL_FILE
        self._fd: int | None = None
        self._failing = False

    def load(self) -> KeptEngine:
        """What the journal holds (an empty engine if there is none).

        Returns:
            The engine's kept state (empty if there is no journal).

        Raises:
            AccountFormatError: a journal of another version, or damaged.
        """
        try:
            raw = self.path.read_bytes()
            written = self.path.stat().st_mtime
        except FileNotFoundError:
            return KeptEngine()
        kept = _replay(raw, self.path)
        kept.last_write_ms = int(written * 1000)
        return kept

    def open(self, kept: KeptEngine) -> None:
        """Rewrite the journal compacted to `kept`, then append to it."""
        private_directory(self.directory)
        lines = [dump_record(FORMAT, VERSION, {})]
        for revisions in kept.definitions.values():
            lines += [_line(_definition_record(d)) for d in revisions]
        for job in kept.jobs:
            lines.append(_line(_job_record(job)))
            lines += [_line(_state_record(each)) for each in (job, *job.children)]
        write_atomically(self.path, b"".join(lines))
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW, PRIVATE_FILE)

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def _append(self, record: dict[str, Any]) -> None:
        if self._fd is None:
            return
        try:
            os.write(self._fd, _line(record))
        except OSError:
            if not self._failing:  # the engine goes on; the account on disk falls behind
                logger.exception("local engine: cannot write its journal %s", self.path)
            self._failing = True
        else:
            self._failing = False

    def definition_changed(self, definition: Definition) -> None:
        self._append(_definition_record(definition))

    def job_submitted(self, job: Job) -> None:
        self._append(_job_record(job))
        self._append(_state_record(job))

    def job_changed(self, job: Job) -> None:
        self._append(_state_record(job))


def compact(directory: Path, kept: KeptEngine) -> None:
    """Rewrite `directory`'s journal to hold exactly `kept` (no holder may be running)."""
    journal = EngineJournal(directory)
    journal.open(kept)
    journal.close()


# -- reading it back ---------------------------------------------------------------------------


def _records(raw: bytes, path: Path) -> Iterable[dict[str, Any]]:
    header, _, rest = raw.partition(b"\n")
    load_record(header, fmt=FORMAT, version=VERSION, path=path)
    lines = rest.split(b"\n")
    torn = lines.pop()  # b"" when the journal ends with a newline, as every write does
    if torn:
        logger.warning("local engine: dropped the last, unfinished line of %s", path)
    for number, line in enumerate(lines, start=2):
        try:
            record = json.loads(line)
        except ValueError as err:
            raise AccountFormatError(
                f"{path}:{number}: not a JSON record ({err})", path=path
            ) from err
        if not isinstance(record, dict):
            raise AccountFormatError(f"{path}:{number}: not a JSON object", path=path)
        yield record


def _replay(raw: bytes, path: Path) -> KeptEngine:
    definitions: dict[str, dict[str, Any]] = {}
    jobs: dict[str, dict[str, Any]] = {}
    states: dict[str, dict[str, Any]] = {}
    keyed = {"definition": (definitions, "arn"), "job": (jobs, "id"), "state": (states, "id")}
    for record in _records(raw, path):
        kind = record.get("r")
        if kind not in keyed:
            raise AccountFormatError(f"{path}: unknown record {kind!r}", path=path)
        into, key = keyed[kind]
        if key not in record:
            raise AccountFormatError(f"{path}: a {kind} record without its {key!r}", path=path)
        into[str(record[key])] = record
    try:
        return _build(definitions, jobs, states)
    except (KeyError, TypeError, ValueError, ServiceError) as err:
        raise AccountFormatError(
            f"{path}: not a consistent engine state: {err!r}", path=path
        ) from err


def _build(
    definitions: dict[str, dict[str, Any]],
    jobs: dict[str, dict[str, Any]],
    states: dict[str, dict[str, Any]],
) -> KeptEngine:
    kept = KeptEngine()
    by_arn: dict[str, Definition] = {}
    for record in sorted(definitions.values(), key=lambda r: int(r["seq"])):
        definition = Definition(
            seq=int(record["seq"]),
            name=str(record["name"]),
            revision=int(record["revision"]),
            arn=str(record["arn"]),
            type=str(record["type"]),
            container=dict(record["container"]),
            retry=record["retry"],
            timeout=record["timeout"],
            parameters=dict(record["parameters"]),
            tags=dict(record["tags"]),
            propagate_tags=bool(record["propagate_tags"]),
            platform_capabilities=list(record["platform_capabilities"]),
            status=str(record["status"]),
        )
        by_arn[definition.arn] = definition
        kept.definitions.setdefault(definition.name, []).append(definition)
    for revisions in kept.definitions.values():
        revisions.sort(key=lambda d: d.revision)
    built: dict[str, Job] = {}
    for record in sorted(jobs.values(), key=lambda r: int(r["seq"])):
        job = _job(record, by_arn[str(record["definition"])], built)
        kept.jobs.append(job)
        for each in (job, *job.children):
            built[each.job_id] = each
    for job_id, state in states.items():
        found = built.get(job_id)
        if found is not None:
            _apply(found, state)
    return kept


def _known(ids: Iterable[Any], built: dict[str, Job]) -> list[Job]:
    """The jobs `ids` name; a job a `pcr local rm` forgot is left out."""
    return [built[str(i)] for i in ids if str(i) in built]


def _job(record: dict[str, Any], definition: Definition, built: dict[str, Job]) -> Job:
    vcpus, memory_mib, gpus = record["resources"]
    command = record["command"]
    definition_command = record["definition_command"]
    job = Job(
        seq=int(record["seq"]),
        job_id=str(record["id"]),
        name=str(record["name"]),
        arn=str(record["arn"]),
        queue_arn=str(record["queue_arn"]),
        definition=definition,
        created_at=int(record["created_at"]),
        environment=dict(record["environment"]),
        command=None if command is None else tuple(command),
        definition_command=None if definition_command is None else tuple(definition_command),
        parameters=dict(record["parameters"]),
        timeout_seconds=record["timeout_seconds"],
        retry=parse_retry_strategy(record["retry"]),
        resources=Resources(float(vcpus), int(memory_mib), int(gpus)),
        container_resources=dict(record["container_resources"]),
        tags={},
        depends_on=list(record["depends_on"]),
        propagate_tags=bool(record["propagate_tags"]),
        array_size=record["array_size"],
    )
    whole = _known(record["prerequisites"], built)
    if job.array_size is None:
        job.prerequisites = whole
        return job
    prefix = job.arn[: len(job.arn) - len(f"job/{job.job_id}")]
    seq = iter(range(job.seq + 1, job.seq + 1 + job.array_size))
    add_array_children(
        job,
        whole,
        _known(record["n_to_n"], built),
        sequential=bool(record["sequential"]),
        next_seq=lambda: next(seq),
        arn=lambda resource: prefix + resource,
    )
    return job


def _attempt(record: dict[str, Any]) -> Attempt:
    return Attempt(
        number=int(record["number"]),
        task_arn=str(record["task_arn"]),
        log_stream=record["log_stream"],
        started_at=record["started_at"],
        stopped_at=record["stopped_at"],
        exit_code=record["exit_code"],
        reason=record["reason"],
        status_reason=record["status_reason"],
    )


def _apply(job: Job, state: dict[str, Any]) -> None:
    job.status = JobStatus(state["status"])
    job.status_reason = state["status_reason"]
    job.started_at = state["started_at"]
    job.stopped_at = state["stopped_at"]
    job.attempts = [_attempt(a) for a in state["attempts"]]
    current = state["current"]
    job.current = None if current is None else _attempt(current)
    job.is_cancelled = bool(state["is_cancelled"])
    job.is_terminated = bool(state["is_terminated"])
    job.final_reason = state["final_reason"]
    job.terminate_reason = state["terminate_reason"]
    job.cancel_reason = state["cancel_reason"]
    job.blocked = bool(state["blocked"])
    if "tags" in state:
        job.tags = dict(state["tags"])
        for child in job.children:
            child.tags = job.tags


def forget(
    kept: KeptEngine, job: Callable[[Job], bool], definition: Callable[[Definition], bool]
) -> KeptEngine:
    """`kept` without the top-level jobs (and their children) and definitions picked.

    A definition a job that stays uses stays too.
    """
    jobs = [each for each in kept.jobs if not job(each)]
    used = {each.definition.arn for each in jobs}
    definitions: dict[str, list[Definition]] = {}
    for name, revisions in kept.definitions.items():
        if all(d.arn in used or not definition(d) for d in revisions):
            definitions[name] = revisions
        elif any(d.arn in used for d in revisions):
            definitions[name] = revisions  # revision numbers stay as they are
    return KeptEngine(definitions, jobs, kept.last_write_ms)
