"""The second tier of pcr-sdk's public API: the services `JobSubmitter` is made of, and what
they exchange while a batch is polled.

Most programs need only `pcr_sdk` (`JobSubmitter`, the models of inputs and results, the
errors). This module is for code that composes the services itself or looks inside a poll:

- the services, usable on their own: `BatchRegistry` (the job definition), `InputStore` (the S3
  layout's objects), `Submitter` (SubmitJob, rate-governed), `Poller` (DescribeJobs) and
  `LogReader` (CloudWatch Logs); `BatchLayout` says where a batch's objects live. `pcr_sdk`
  exports these too (the same objects), with `JobDefinitionSpec` and `JobSpec`;
- the poll internals, found only here: `SubmittedJob` (what `JobSubmitter.jobs` and
  `BatchStatus.jobs` hold), `JobState` (what AWS Batch last said about a job) and
  `PollProgress` (one polling cycle's counts), with `ProgressReporter`, the protocol a custom
  `progress=` reporter implements.

These names are as public as `pcr_sdk`'s and follow the same deprecation policy
(docs/compatibility.md); they change more often, because they follow AWS Batch's API more
closely. pcr-sdk 0.1.0 exported the poll internals from `pcr_sdk` itself: that import still
works, and warns (`DeprecationWarning`) naming this module.
"""

from __future__ import annotations

from pcr_sdk._private.model.results import JobState, SubmittedJob
from pcr_sdk._private.model.specs import JobDefinitionSpec, JobSpec
from pcr_sdk._private.progress import ProgressReporter
from pcr_sdk._private.services.logs import LogReader
from pcr_sdk._private.services.poller import Poller, PollProgress
from pcr_sdk._private.services.registry import BatchRegistry
from pcr_sdk._private.services.store import InputStore
from pcr_sdk._private.services.submitter import Submitter
from pcr_sdk._private.wire.layout import BatchLayout

__all__ = [
    "BatchLayout",
    "BatchRegistry",
    "InputStore",
    "JobDefinitionSpec",
    "JobSpec",
    "JobState",
    "LogReader",
    "PollProgress",
    "Poller",
    "ProgressReporter",
    "SubmittedJob",
    "Submitter",
]
