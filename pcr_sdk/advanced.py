"""The second tier of pcr-sdk's public API: the services `JobSubmitter` is a facade over, and
what only they exchange.

Most programs need only `pcr_sdk` (`JobSubmitter`, the models of inputs and results, the
errors). This module is for code that composes the services itself or looks inside a poll:

- the services, each usable on its own: `BatchRegistry` (the job definition), `InputStore`
  (the S3 layout's objects), `Submitter` (SubmitJob, rate-governed), `Poller` (DescribeJobs)
  and `LogReader` (CloudWatch Logs);
- what they exchange: `JobSpec` (one job's input and dependencies, what `Submitter` sends),
  `JobState` (what AWS Batch last said about a job), `PollRun` (one wait, as an iterator of
  polling cycles: what `Poller.run` returns), and `Listing` and `StoredObject` (what
  `InputStore.list_detailed` returns: objects with their time and ETag, and S3's clock);
- `Seams` (the clock, sleep, random numbers and UUIDs a batch runs on, for tests),
  `SubmitterOptions` (the keyword-only settings `JobSubmitter.attach` passes on) and
  `BatchOptions` (those and the job settings of a new batch, as `LocalBackend.job_submitter`
  takes them).

No name here is also in `pcr_sdk`; both follow the same compatibility policy
(docs/compatibility.md). These change more often, because they follow AWS Batch's API more
closely.
"""

from __future__ import annotations

from pcr_sdk._private.assembly import BatchOptions, SubmitterOptions
from pcr_sdk._private.model.results import JobState
from pcr_sdk._private.model.specs import JobSpec
from pcr_sdk._private.seams import Seams
from pcr_sdk._private.services.logs import LogReader
from pcr_sdk._private.services.poll_run import PollRun
from pcr_sdk._private.services.poller import Poller
from pcr_sdk._private.services.registry import BatchRegistry
from pcr_sdk._private.services.store import InputStore, Listing, StoredObject
from pcr_sdk._private.services.submitter import Submitter

__all__ = [
    "BatchOptions",
    "BatchRegistry",
    "InputStore",
    "JobSpec",
    "JobState",
    "Listing",
    "LogReader",
    "PollRun",
    "Poller",
    "Seams",
    "StoredObject",
    "Submitter",
    "SubmitterOptions",
]
