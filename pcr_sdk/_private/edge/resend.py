"""Calls with no idempotency token: after a lost answer, look before sending again.

SubmitJob and RegisterJobDefinition have no client token; a blind resend after a lost answer
can create a second job or an orphaned revision. Inside `calls.scope(no_blind_retry=True)`
botocore raises `AmbiguousCall` instead of resending (refused connections and throttling, which
AWS did not apply, are still retried by botocore). `send_once` then looks for what the lost call
made; only when it is not there, after a settle delay and a second look (ListJobs is eventually
consistent: a job created a moment ago may not be listed yet), does it send again, with
jittered exponential backoff, as many times as botocore would have tried.

The window that remains: a job created by the lost call that AWS Batch still does not list
after the settle delay is submitted a second time (each job's `pcr:submission` tag tells them
apart; `attach` keeps the one at the index the manifest names and warns about the other).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, TypeVar

from pcr_sdk._private.edge.hooks import AmbiguousCall
from pcr_sdk._private.errors import AwsError
from pcr_sdk._private.model.settings import LOST_ANSWER_SETTLE_SECONDS
from pcr_sdk._private.seams import Sleep

logger = logging.getLogger(__name__)

T = TypeVar("T")
MAX_BACKOFF_SECONDS: Final = 20.0
"""botocore's standard mode caps its backoff at 20 s as well."""


@dataclass(frozen=True)
class LostAnswerPolicy:
    """How `send_once` waits between looks and resends (sleep and random injected)."""

    attempts: int = 3
    """Sends in all (the client's botocore retry setting, by default)."""
    settle_seconds: float = LOST_ANSWER_SETTLE_SECONDS
    """Wait before the second look, so ListJobs' lag does not turn into a duplicate."""
    sleep: Sleep = time.sleep
    random: Callable[[], float] = random.random

    def backoff(self, attempt: int) -> float:
        """Full jitter, like botocore: random() x 2**attempt seconds, capped."""
        return float(self.random() * min(MAX_BACKOFF_SECONDS, 2.0**attempt))


def send_once(
    send: Callable[[], T],
    find: Callable[[], T | None],
    *,
    operation: str,
    policy: LostAnswerPolicy,
    job_queue: str | None = None,
) -> T:
    """`send()`; after an ambiguous failure, what `find()` finds of it, else send again.

    Gives up with `AwsError` after `policy.attempts` ambiguous failures in a row.
    """
    cause: AmbiguousCall | None = None
    for attempt in range(max(1, policy.attempts)):
        if attempt:
            policy.sleep(policy.backoff(attempt))
        try:
            return send()
        except AmbiguousCall as err:
            cause = err
        found = find()
        if found is None and policy.settle_seconds > 0:
            policy.sleep(policy.settle_seconds)
            found = find()
        if found is not None:
            logger.warning("%s answer lost (%s); it was applied: %s", operation, cause, found)
            return found
        logger.warning("%s answer lost (%s) and not applied; sending again", operation, cause)
    raise AwsError(
        f"{operation} failed {policy.attempts} times without an answer: {cause}",
        operation=operation,
        job_queue=job_queue,
    ) from cause
