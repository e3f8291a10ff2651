"""AWS's facts in one module: statuses, and the error codes botocore calls throttling."""

from __future__ import annotations

from typing import Any

import botocore.retries.standard

from pcr_sdk import JobStatus
from pcr_sdk._private.wire.facts import THROTTLING_ERROR_CODES


def test_throttling_codes_are_botocores() -> None:
    checker: Any = botocore.retries.standard.ThrottledRetryableChecker
    assert frozenset(checker._THROTTLED_ERROR_CODES) == THROTTLING_ERROR_CODES


def test_job_status_finished_states() -> None:
    finished = {s for s in JobStatus if s.is_finished}
    assert finished == {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.EXPIRED}
    assert len(JobStatus) == 8  # AWS Batch's seven, and pcr-sdk's EXPIRED
