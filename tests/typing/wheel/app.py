"""A type-checked application of pcr-sdk, as a user writes one after `pip install
"pcr-sdk[local]" mypy`: `tests/typing/wheel/check.py` checks it with `mypy --strict
--disallow-any-expr` against a wheel built from the checkout, in a venv of its own.

`--disallow-any-expr` makes any `Any` that reaches this file an error: an untyped client, a
session, an input or a result. Never executed; not in the repository's own mypy run (the
`reveal_type` calls are read by check.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypedDict

import boto3
from pydantic import BaseModel
from typing_extensions import reveal_type

from pcr_sdk import FailureKind, JobResult, JobSubmitter, SilentProgress
from pcr_sdk.local import LocalBackend


class Params(TypedDict):
    n: int
    label: str


class Typed(BaseModel):
    n: int


backend = LocalBackend()
reveal_type(backend.clients.batch)
reveal_type(JobSubmitter.attach)


def follow(batch_id: str, session: boto3.Session) -> list[JobResult]:
    """Attach to a batch, rerun what timed out, read the results: no `Any` anywhere."""
    submitter = JobSubmitter.attach(
        batch_id, job_queue="q", job_bucket="b", session=session, progress=SilentProgress()
    )
    rerun = submitter.resubmit_failed(kinds={"timeout", FailureKind.OUT_OF_MEMORY})
    return submitter.get_results(rerun)


def submit(
    submitter: JobSubmitter,
    counts: dict[str, int],
    rows: Sequence[Params],
    nested: Mapping[str, list[float]],
) -> list[str]:
    """Inputs as a `dict[str, int]`, TypedDicts, nested JSON and a pydantic model."""
    first = submitter.submit_job(counts)
    return [first, *submitter.submit_jobs(rows), submitter.submit_job(nested),
            submitter.submit_job(Typed(n=1), [first])]  # fmt: skip


def local(inputs: list[dict[str, int]]) -> list[str | None]:
    with LocalBackend(["python", "worker.py"]) as running:
        batch = running.clients.batch.describe_job_queues()["jobQueues"]
        assert batch
        with running.job_submitter("local", vcpus=1, polling_interval_seconds=0.2) as sub:
            sub.submit_jobs(inputs, array=False)
            sub.wait_until_jobs_finished()
            return sub.get_all_outputs()
