"""Recorders of the AWS calls made through a set of clients (`before-call` handlers)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from pcr_sdk import AwsClients


class Calls:
    """Counts the API calls made through a set of clients, per operation."""

    def __init__(self, clients: AwsClients) -> None:
        self.counts: Counter[str] = Counter()
        for client in (clients.batch, clients.s3):
            client.meta.events.register("before-call.*.*", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.counts[model.name] += 1

    def take(self) -> Counter[str]:
        taken, self.counts = self.counts, Counter()
        return taken


class CallLog:
    def __init__(self, clients: AwsClients) -> None:
        self.calls: list[str] = []
        for client in (clients.batch, clients.s3, clients.logs):
            client.meta.events.register("before-call.*.*", self._record)

    def _record(self, model: Any, **_: Any) -> None:
        self.calls.append(model.name)
