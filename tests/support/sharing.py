"""Helpers for tests where several processes share a batch (watchers, reruns, leases)."""

from __future__ import annotations

import datetime
from collections import Counter
from typing import Any

from moto.s3.models import s3_backends

from pcr_sdk import AwsClients, JobSubmitter
from pcr_sdk.testing import MotoWorld

MOTO_ACCOUNT = "123456789012"


def stored_object(world: MotoWorld, key: str) -> Any:
    """moto's object `key` in the world's bucket (its LastModified may be set in place: no
    request, so no injected fault)."""
    bucket = s3_backends[MOTO_ACCOUNT]["aws"].buckets[world.bucket]
    stored = bucket.keys.get(key)
    assert stored is not None, key
    return stored


def age(world: MotoWorld, key: str, seconds: float) -> None:
    """Move the LastModified of object `key` in the world's bucket `seconds` into the past: as
    if S3's clock had moved on that far since it was written (moto's clock is the real one)."""
    stored_object(world, key).last_modified -= datetime.timedelta(seconds=seconds)


def active(world: MotoWorld, batch_id: str) -> list[int]:
    """The ACTIVE revisions of the batch's job definition."""
    found = world.session.client("batch").describe_job_definitions(jobDefinitionName=batch_id)
    return sorted(d["revision"] for d in found["jobDefinitions"] if d["status"] == "ACTIVE")


def sessions(world: MotoWorld, sub: JobSubmitter) -> list[str]:
    """The names of the session records in the batch's manifest."""
    listed = world.clients.s3.list_objects_v2(
        Bucket=world.bucket, Prefix=sub.layout.manifest_prefix
    )
    names = [o["Key"].rsplit("/", 1)[1] for o in listed.get("Contents", [])]
    return sorted(name for name in names if name.startswith("session-"))


class Calls:
    """Counts the API calls made through `clients`, by operation."""

    def __init__(self, clients: AwsClients) -> None:
        self.made: Counter[str] = Counter()
        for client in (clients.batch, clients.s3, clients.logs):
            client.meta.events.register("before-call.*.*", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.made[model.name] += 1

    def take(self) -> Counter[str]:
        made, self.made = self.made, Counter()
        return made
