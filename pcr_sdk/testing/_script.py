"""What each mocked job does: how many polls it takes, whether it fails, what its worker does."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from pcr_sdk._private.public import public
from pcr_sdk._private.wire.facts import CONTAINER_EXITED_REASON
from pcr_sdk._private.wire.layout import ENV_ARRAY_BASE_INDEX, ENV_ARRAY_INDEX, ENV_PREFIX

ESSENTIAL_CONTAINER_EXITED: Final = CONTAINER_EXITED_REASON
"""The statusReason AWS Batch gives a job whose container exited on its own."""

Handler = Callable[[Any], object]
H = TypeVar("H", bound=Handler)


@public("pcr_sdk.testing")
@dataclass(frozen=True)
class JobView:
    """What the script knows about a submitted job, handed to predicates."""

    job_id: str
    """The job's id (an array child's: `<parent id>:<i>`)."""
    job_name: str
    """The job's name (pcr-sdk names every job of a batch after the batch id)."""
    environment: Mapping[str, str]
    """The job's environment: the job definition's, overridden by the submission's (an array
    child's also has AWS_BATCH_JOB_ARRAY_INDEX)."""
    order: int
    """0 for the first job submitted in the world, then 1, 2, ..."""
    index: int | None
    """The last path segment of S3_JOB_PREFIX as an int (job k of its batch), or None."""
    depends_on: tuple[str, ...] = ()
    """The ids of the jobs it waits for."""

    @staticmethod
    def index_from(environment: Mapping[str, str]) -> int | None:
        """Job k's index: from its S3_JOB_PREFIX, or for an array child base + array index.

        Args:
            environment: the job's environment variables.

        Returns:
            The index, or None if the environment names none.
        """
        base = environment.get(ENV_ARRAY_BASE_INDEX, "")
        child = environment.get(ENV_ARRAY_INDEX, "")
        if base.isdigit() and child.isdigit():
            return int(base) + int(child)
        last = environment.get(ENV_PREFIX, "").rstrip("/").rsplit("/", 1)[-1]
        return int(last) if last.isdigit() else None


Predicate = Callable[[JobView], bool]


def environment_of(pairs: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Batch's `[{"name": k, "value": v}, ...]` as a dict."""
    return {str(pair["name"]): str(pair.get("value", "")) for pair in pairs}


@dataclass(frozen=True)
class Failure:
    """How a scripted job fails: exit code (None: infrastructure failure), reason, log lines."""

    exit_code: int | None
    reason: str
    log_lines: tuple[str, ...] = ()


def _select(index: int | None, job_id: str | None, job_name: str | None) -> Predicate:
    if index is None and job_id is None and job_name is None:
        raise ValueError("give at least one of index=, job_id=, job_name= (or use *_where)")

    def predicate(view: JobView) -> bool:
        return (
            (index is None or view.index == index)
            and (job_id is None or view.job_id == job_id)
            and (job_name is None or view.job_name == job_name)
        )

    return predicate


@public("pcr_sdk.testing")
class JobScript:
    """Scripts the fate of every job submitted in a `MotoWorld`.

    A job stays unfinished for `polls_to_finish` DescribeJobs calls that include it, showing
    SUBMITTED, PENDING, RUNNABLE, STARTING, then RUNNING; the next describe finishes it. It
    succeeds unless a `fail` rule matches it or its `worker` raises. Rules are consulted lazily
    (when the job moves), so they may be added after submission; the latest matching rule wins.
    ListJobs shows the current status without moving anything. A job with dependsOn waits in
    PENDING (its polls not counted) until its dependencies finish; a job with retries left runs
    its next attempt on its next describe (the rules apply to every attempt).

    Args:
        polls_to_finish: how many describes a job stays unfinished by default (at least 0).

    Raises:
        ValueError: `polls_to_finish` is negative.
    """

    def __init__(self, *, polls_to_finish: int = 0) -> None:
        if polls_to_finish < 0:
            raise ValueError(f"polls_to_finish must be >= 0, got {polls_to_finish}")
        self.polls_to_finish = polls_to_finish
        self._failures: list[tuple[Predicate, Failure]] = []
        self._polls: list[tuple[Predicate, int]] = []
        self._handler: Handler | None = None
        self._lock = threading.Lock()

    def fail(
        self,
        *,
        index: int | None = None,
        job_id: str | None = None,
        job_name: str | None = None,
        exit_code: int | None = 1,
        reason: str = ESSENTIAL_CONTAINER_EXITED,
        log_lines: Sequence[str] = (),
    ) -> None:
        """Make the matching job(s) end FAILED (all given selectors must match).

        `exit_code=None` models an infrastructure failure: no exit code, only `reason`.

        Args:
            index: the job's index in its batch.
            job_id: the job's id.
            job_name: the job's name.
            exit_code: the container's exit code (not 0); None: none (an infrastructure
                failure).
            reason: the failure's reason (not empty; default: AWS's "Essential container in
                task exited").
            log_lines: the job's CloudWatch Logs events (group /aws/batch/job).

        Raises:
            ValueError: no selector is given, `exit_code` is 0 or `reason` empty.
            TypeError: `log_lines` is a string, not a sequence of lines.
        """
        self.fail_where(
            _select(index, job_id, job_name),
            exit_code=exit_code,
            reason=reason,
            log_lines=log_lines,
        )

    def fail_where(
        self,
        predicate: Predicate,
        *,
        exit_code: int | None = 1,
        reason: str = ESSENTIAL_CONTAINER_EXITED,
        log_lines: Sequence[str] = (),
    ) -> None:
        """Make every job for which `predicate(view)` is true end FAILED.

        Args:
            predicate: chooses the jobs, given each one's `JobView`.
            exit_code: the container's exit code (not 0); None: none (an infrastructure
                failure).
            reason: the failure's reason (not empty; default: AWS's "Essential container in
                task exited").
            log_lines: the job's CloudWatch Logs events (group /aws/batch/job).

        Raises:
            ValueError: `exit_code` is 0 or `reason` empty.
            TypeError: `log_lines` is a string, not a sequence of lines.
        """
        if exit_code == 0:
            raise ValueError("a failed job needs a non-zero exit_code (or None)")
        if not reason:
            raise ValueError("reason must not be empty")
        if isinstance(log_lines, str):
            raise TypeError("log_lines must be a sequence of lines, not one string")
        failure = Failure(exit_code=exit_code, reason=reason, log_lines=tuple(log_lines))
        with self._lock:
            self._failures.append((predicate, failure))

    def polls(
        self,
        *,
        n: int,
        index: int | None = None,
        job_id: str | None = None,
        job_name: str | None = None,
    ) -> None:
        """Keep the matching job(s) unfinished for `n` describes instead of `polls_to_finish`.

        Args:
            n: how many describes (at least 0).
            index: the job's index in its batch.
            job_id: the job's id.
            job_name: the job's name.

        Raises:
            ValueError: no selector is given, or `n` is negative.
        """
        self.polls_where(_select(index, job_id, job_name), n=n)

    def polls_where(self, predicate: Predicate, *, n: int) -> None:
        """Keep every job matching `predicate` unfinished for `n` describes.

        Args:
            predicate: chooses the jobs, given each one's `JobView`.
            n: how many describes (at least 0).

        Raises:
            ValueError: `n` is negative.
        """
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        with self._lock:
            self._polls.append((predicate, n))

    def worker(self, handler: H) -> H:
        """Simulate the container: on success, write `json.dumps(handler(input))` as output.

        A handler that raises fails the job with exit code 1 and the exception as its log line.

        Args:
            handler: takes the job's input (parsed JSON), returns its output.

        Returns:
            `handler`, so that `worker` works as a decorator.
        """
        with self._lock:
            self._handler = handler
        return handler

    @property
    def handler(self) -> Handler | None:
        """The simulated container set by `worker()`, if any."""
        return self._handler

    def reset(self) -> None:
        """Drop every rule and the worker (`polls_to_finish` stays)."""
        with self._lock:
            self._failures.clear()
            self._polls.clear()
            self._handler = None

    def failure_for(self, view: JobView) -> Failure | None:
        """The latest failure rule matching `view`, if any.

        Args:
            view: the job.

        Returns:
            How the job fails, or None: it succeeds.
        """
        with self._lock:
            rules = list(self._failures)
        return next((failure for pred, failure in reversed(rules) if pred(view)), None)

    def polls_for(self, view: JobView) -> int:
        """How many describes `view`'s job stays unfinished.

        Args:
            view: the job.

        Returns:
            The latest matching `polls` rule's `n`, else `polls_to_finish`.
        """
        with self._lock:
            rules = list(self._polls)
        return next((n for pred, n in reversed(rules) if pred(view)), self.polls_to_finish)
