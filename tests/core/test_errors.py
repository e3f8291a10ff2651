"""The exception tree: what each error is besides a `PcrError`, and how it reads."""

from __future__ import annotations

from pcr_sdk import JobNotFoundError


def test_job_not_found_is_a_key_error_with_a_readable_message() -> None:
    err = JobNotFoundError("j-1", batch_id="b_1")
    assert isinstance(err, KeyError)
    assert str(err) == "job 'j-1' is not part of batch 'b_1'"
