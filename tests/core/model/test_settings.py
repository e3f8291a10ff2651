"""The settings models and the loose-argument checks: one pydantic rule each, and an input
error that names the setting (never a secret's value)."""

from __future__ import annotations

import math

import pytest
from pydantic import SecretStr

from pcr_sdk import PcrInputError
from pcr_sdk._private.model.settings import (
    AwsSettings,
    BatchSettings,
    PollSettings,
    StoreSettings,
    build,
    check_region,
    count,
    positive,
    seconds,
    timeout_seconds,
)


def test_the_defaults_are_the_seeds() -> None:
    poll = PollSettings()
    assert (poll.interval_seconds, poll.request_spacing_ms, poll.adaptive) == (60.0, 200.0, False)
    settings = build(BatchSettings, job_queue="q", store=StoreSettings(bucket="bkt"))
    assert settings.store.io_workers == 16
    assert settings.cancel_on_error is False


@pytest.mark.parametrize(
    ("model", "fields", "named"),
    [
        (PollSettings, {"interval_seconds": -1}, "interval_seconds"),
        (PollSettings, {"interval_seconds": math.nan}, "interval_seconds"),
        (PollSettings, {"interval_seconds": "60"}, "interval_seconds"),  # strict: no strings
        (PollSettings, {"adaptive": 1}, "adaptive"),
        (StoreSettings, {"bucket": "a..b"}, "bucket"),
        (StoreSettings, {"bucket": "bkt", "io_workers": 257}, "io_workers"),
        (StoreSettings, {"bucket": "bkt", "expected_bucket_owner": "12345"}, "owner"),
        (BatchSettings, {"job_queue": "a queue", "store": {"bucket": "bkt"}}, "job_queue"),
        (AwsSettings, {"region": "eu central 1"}, "region"),
        (PollSettings, {"unknown": 1}, "unknown"),
    ],
)
def test_a_bad_setting_is_an_input_error_naming_it(
    model: type[PollSettings], fields: dict[str, object], named: str
) -> None:
    with pytest.raises(PcrInputError, match=named):
        build(model, **fields)


def test_a_secret_is_never_shown_in_the_error() -> None:
    with pytest.raises(PcrInputError) as raised:
        build(AwsSettings, secret_access_key=12345)
    assert "12345" not in str(raised.value)
    assert "secret_access_key" in str(raised.value)
    settings = build(AwsSettings, secret_access_key=SecretStr("s3cr3t"))
    assert "s3cr3t" not in repr(settings)


def test_loose_arguments_follow_the_same_rules() -> None:
    assert seconds("timeout", 0) == 0.0
    assert positive("rate", 0.5) == 0.5
    assert count("max_calls", 3) == 3
    assert timeout_seconds(None) is None
    for check, value in [(seconds, -1), (seconds, math.inf), (positive, 0), (count, True),
                         (count, 0), (seconds, "1")]:  # fmt: skip
        with pytest.raises(PcrInputError, match="the_name"):
            check("the_name", value)


def test_a_region_is_checked_by_botocores_rule() -> None:
    assert check_region("eu-central-1") == "eu-central-1"
    for bad in ("", "eu central 1", "-eu", "x" * 64):
        with pytest.raises(PcrInputError, match="not a region name"):
            check_region(bad)
