"""`AwsClients` and `clients_for`: clients are built, never called, and a wrong way of passing
them is an input error."""

from __future__ import annotations

import os
from typing import Any

import boto3
import pytest

from pcr_sdk import AwsClients, PcrInputError
from pcr_sdk._private.edge.clients import DEFAULT_CONFIG, clients_for
from pcr_sdk._private.model.settings import AwsSettings
from tests.support.fakes import NoCalls, offline_session


@pytest.fixture
def no_aws_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither the user's environment nor their files configure AWS."""
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE", "AWS_ACCESS_KEY_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)


def test_clients_come_with_standard_retries_and_pcr_sdks_user_agent() -> None:
    clients = AwsClients.from_session(offline_session(), region_name="eu-west-1")
    expected: Any = DEFAULT_CONFIG  # botocore's Config sets its attributes dynamically
    for client in (clients.batch, clients.s3, clients.logs):
        config: Any = client.meta.config
        assert client.meta.region_name == "eu-west-1"
        assert config.retries == expected.retries == {"mode": "standard", "total_max_attempts": 8}
        assert "pcr-sdk" in config.user_agent_extra


def test_given_clients_are_used_as_they_are() -> None:
    given = NoCalls().clients
    assert clients_for(AwsSettings(), session=None, clients=given) is given


@pytest.mark.usefixtures("no_aws_config")
def test_a_wrong_way_of_passing_clients_is_an_input_error() -> None:
    given = NoCalls().clients
    session = offline_session()
    wrong: list[tuple[AwsSettings, object, object, str]] = [
        (AwsSettings(), None, "clients", "must be an AwsClients"),
        (AwsSettings(), session, given, "not both"),
        (AwsSettings(access_key_id="AKIA"), None, given, "not both"),
        (AwsSettings(), "session", None, "must be a boto3.Session"),
        (AwsSettings(), None, None, "no AWS region"),
    ]
    for settings, passed_session, passed_clients, message in wrong:
        with pytest.raises(PcrInputError, match=message):
            clients_for(settings, session=passed_session, clients=passed_clients)  # type: ignore[arg-type]


@pytest.mark.usefixtures("no_aws_config")
def test_the_region_comes_from_the_settings_or_the_session_and_is_checked() -> None:
    session = offline_session()
    clients = clients_for(AwsSettings(region="ap-south-1"), session=session, clients=None)
    assert clients.batch.meta.region_name == "ap-south-1"
    assert clients_for(AwsSettings(), session=session, clients=None).s3.meta.region_name == (
        "eu-central-1"
    )
    with pytest.raises(PcrInputError, match="not a region name"):
        clients_for(AwsSettings(), session=boto3.Session(region_name="bad region"), clients=None)
