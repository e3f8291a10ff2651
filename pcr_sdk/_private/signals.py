"""Opt-in handling of Ctrl-C, SIGTERM and SIGHUP for a process that runs a batch.

A library has no business installing signal handlers behind its user's back, so pcr-sdk
installs none unless asked. `handle_signals()` does it for the length of one `with` block:
SIGINT (Ctrl-C), SIGTERM (what `timeout`, systemd, Kubernetes, CI runners and `kill` send)
and SIGHUP (a closed terminal) become `InterruptedBySignal`, a `KeyboardInterrupt`, raised in
the main thread; the previous handlers are back when the block ends::

    from pcr_sdk import JobSubmitter
    from pcr_sdk import handle_signals

    with JobSubmitter(...) as submitter, handle_signals(submitter, owns=True):
        submitter.submit_jobs(inputs, array=False)
        submitter.wait_until_jobs_finished()

Without it, SIGTERM ends the process on the spot: no `finally`, no `with` exit, the job
definition stays ACTIVE and the jobs keep running. With it, the block ends with the exception
and everything on the way out runs. `owns=True` (a process that started the batch) also
cancels the batch: no more submissions, every unfinished job terminated (on the local backend
that kills its workers), the definition deregistered. `owns=False` (a process that only
watches, like `pcr wait`) leaves the jobs running.

The first signal raises; any later one while a guard is active is ignored (and counted), so
the clean-up is not cut short: SIGKILL still ends the process at once. A signal that was
ignored when the block began (`nohup` ignores SIGHUP, a shell ignores SIGINT for background
jobs) stays ignored. Guards nest and then act as one; they can only be entered in the main
thread (Python runs signal handlers there).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING, Final

from pcr_sdk._private.errors import PcrError
from pcr_sdk._private.public import public

if TYPE_CHECKING:
    from pcr_sdk._private.facade import JobSubmitter
    from pcr_sdk._private.model.results import JobResult

__all__ = ["DEFAULT_SIGNALS", "InterruptedBySignal", "SignalGuard", "handle_signals"]

logger = logging.getLogger(__name__)

DEFAULT_SIGNALS: Final[tuple[signal.Signals, ...]] = tuple(
    s for s in (getattr(signal, name, None) for name in ("SIGINT", "SIGTERM", "SIGHUP")) if s
)
"""SIGINT, SIGTERM and SIGHUP (where the platform has it)."""

_Handler = Callable[[int, FrameType | None], object] | int | None


@public("pcr_sdk")
class InterruptedBySignal(KeyboardInterrupt):
    """A handled signal arrived: raised in the main thread inside `handle_signals`.

    A `KeyboardInterrupt`, so code that already stops cleanly on Ctrl-C (concurrent
    submission, `wait_until_jobs_finished`, `with JobSubmitter(...)`) does the same on SIGTERM.
    """

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.name = signal.Signals(signum).name
        super().__init__(f"interrupted by {self.name}")

    @property
    def exit_code(self) -> int:
        """128 + the signal's number: 130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP."""
        return 128 + self.signum


@public("pcr_sdk")
@dataclass
class SignalGuard:
    """What `handle_signals` yields: which signal ended the block, and what was done."""

    signals: tuple[int, ...]
    """The signals handled (those not ignored when the block began)."""
    signum: int | None = None
    """The first signal received, if any."""
    ignored: int = 0
    """Signals received after the first one (ignored)."""
    cancelled: dict[str, JobResult] | None = field(default=None, repr=False)
    """With `owns=True`, the results `JobSubmitter.cancel` returned for the jobs it stopped."""

    @property
    def exit_code(self) -> int | None:
        """128 + the first signal's number (the shell's convention), None without a signal."""
        return None if self.signum is None else 128 + self.signum


class _State:
    """The guards active in this process (they nest and act as one)."""

    def __init__(self) -> None:
        self.depth = 0
        self.fired = False
        self.outermost: SignalGuard | None = None


_state = _State()


def _handler(guard: SignalGuard) -> Callable[[int, FrameType | None], None]:
    def handle(signum: int, frame: FrameType | None) -> None:
        del frame
        if _state.fired:
            guard.ignored += 1
            if _state.outermost is not None and _state.outermost is not guard:
                _state.outermost.ignored += 1
            logger.warning("%s received while stopping; ignored", signal.Signals(signum).name)
            return
        _state.fired = True
        guard.signum = signum
        if _state.outermost is not None and _state.outermost.signum is None:
            _state.outermost.signum = signum
        raise InterruptedBySignal(signum)

    return handle


@public("pcr_sdk")
@contextmanager
def handle_signals(
    submitter: JobSubmitter | None = None,
    *,
    owns: bool = True,
    signals: Sequence[int] = DEFAULT_SIGNALS,
    reason: str | None = None,
) -> Iterator[SignalGuard]:
    """Inside the block, `signals` raise `InterruptedBySignal` (once); restored afterwards.

    With a `submitter` and `owns=True`, an interruption (a handled signal, or any
    `KeyboardInterrupt`) cancels the batch before the exception leaves the block:
    `submitter.cancel(reason, wait=False)`, which stops submitting, terminates every
    unfinished job and deregisters the job definition. With `owns=False` the jobs keep
    running. A failure of the cancellation is logged; the interruption is what propagates.

    Args:
        submitter: the batch to cancel on an interruption; None: nothing is cancelled.
        owns: whether this process owns the batch (cancel it) or only watches it (leave the
            jobs running).
        signals: the signals to handle (default: SIGINT, SIGTERM and SIGHUP); ignored ones
            stay ignored.
        reason: the cancellation's reason, recorded on every job (default: `pcr-sdk: <signal
            name> in the submitting process`).

    Yields:
        The guard: which signal ended the block, and which jobs were cancelled.

    Raises:
        PcrError: called outside the main thread.
        InterruptedBySignal: a handled signal arrived inside the block.
    """
    if threading.current_thread() is not threading.main_thread():
        raise PcrError("handle_signals works only in the main thread (where Python runs handlers)")
    previous: dict[int, _Handler] = {}
    for number in dict.fromkeys(signals):
        current = signal.getsignal(number)
        if current is not signal.SIG_IGN:
            previous[number] = current
    guard = SignalGuard(signals=tuple(previous))
    outermost = _state.depth == 0
    if outermost:
        _state.fired = False
        _state.outermost = guard
    _state.depth += 1
    try:
        handle = _handler(guard)
        for number in previous:
            signal.signal(number, handle)
        try:
            yield guard
        except KeyboardInterrupt as interrupt:
            if isinstance(interrupt, InterruptedBySignal) and guard.signum is None:
                guard.signum = interrupt.signum
            _state.fired = True  # from here on, the clean-up is not cut short
            if submitter is not None:
                _settle(submitter, guard, owns=owns, reason=reason, interrupt=interrupt)
            raise
    finally:
        _state.depth -= 1
        for number, handler in previous.items():
            signal.signal(number, handler if handler is not None else signal.SIG_DFL)
        if outermost:
            _state.fired = False
            _state.outermost = None


def _settle(
    submitter: JobSubmitter,
    guard: SignalGuard,
    *,
    owns: bool,
    reason: str | None,
    interrupt: KeyboardInterrupt,
) -> None:
    what = interrupt.name if isinstance(interrupt, InterruptedBySignal) else "KeyboardInterrupt"
    if not owns:
        logger.info("%s: batch %s keeps running", what, submitter.get_batch_id())
        return
    try:
        guard.cancelled = submitter.cancel(
            reason or f"pcr-sdk: {what} in the submitting process", wait=False
        )
    except PcrError as err:
        logger.error("%s: could not cancel batch %s: %s", what, submitter.get_batch_id(), err)
    else:
        logger.info(
            "%s: batch %s cancelled (%d unfinished job(s) stopped)",
            what, submitter.get_batch_id(), len(guard.cancelled),
        )  # fmt: skip
