"""AWS's wire protocols on the engine's side: REST-JSON and JSON-target routing, AWS's errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from botocore.awsrequest import AWSPreparedRequest
from botocore.compat import HTTPHeaders
from botocore.exceptions import ClientError

from pcr_sdk.local import LocalBackend
from pcr_sdk.local._refusals import ServiceError
from pcr_sdk.local._wire import JsonEndpoint, RestJsonEndpoint, service_model


def _request(method: str, url: str, body: bytes, **headers: str) -> AWSPreparedRequest:
    http_headers = HTTPHeaders()
    for name, value in headers.items():
        http_headers[name] = value
    return AWSPreparedRequest(method, url, http_headers, body, stream_output=False)


def test_rest_json_routing_and_errors() -> None:
    seen: list[dict[str, Any]] = []

    def untag(params: dict[str, Any]) -> dict[str, Any]:
        seen.append(params)
        return {}

    def refuse(params: dict[str, Any]) -> dict[str, Any]:
        raise ServiceError("ClientException", f"no {params['jobId']}")

    endpoint = RestJsonEndpoint(
        service_model("batch"), {"UntagResource": untag, "CancelJob": refuse}
    )
    arn = "arn:aws:batch:us-east-1:123456789012:job/abc"
    response = endpoint(
        _request("DELETE", f"https://h/v1/tags/{quote(arn, safe='')}?tagKeys=a&tagKeys=b", b"")
    )
    assert response.status_code == 200
    assert seen == [{"resourceArn": arn, "tagKeys": ["a", "b"]}]

    refused = endpoint(_request("POST", "https://h/v1/canceljob", b'{"jobId": "j", "reason": "r"}'))
    assert refused.status_code == 400
    assert refused.headers["x-amzn-ErrorType"] == "ClientException"
    assert json.loads(refused.content) == {"message": "no j"}
    missing = endpoint(_request("POST", "https://h/v1/submitjob", b"{}"))
    assert b"not implemented" in missing.content


def test_json_target_routing() -> None:
    endpoint = JsonEndpoint(
        service_model("logs"), {"GetLogEvents": lambda params: {"events": [], "seen": params}}
    )
    ok = endpoint(
        _request(
            "POST", "https://h/", b'{"logStreamName": "s"}',
            **{"X-Amz-Target": "Logs_20140328.GetLogEvents"},
        )
    )  # fmt: skip
    assert json.loads(ok.content) == {"events": [], "seen": {"logStreamName": "s"}}
    unknown = endpoint(
        _request("POST", "https://h/", b"{}", **{"X-Amz-Target": "Logs.PutLogEvents"})
    )
    assert unknown.status_code == 400
    assert json.loads(unknown.content)["__type"] == "InvalidOperationException"


@pytest.mark.subprocess
def test_unimplemented_operations_fail_like_aws(tmp_path: Path) -> None:
    with LocalBackend(["true"], cwd=tmp_path) as local:
        with pytest.raises(ClientError, match="not implemented"):
            local.clients.batch.list_scheduling_policies()
        with pytest.raises(ClientError, match="not implemented"):
            local.clients.logs.describe_log_groups()
        # clients made later from the backend's session are answered locally too
        batch = local.session.client("batch")
        assert batch.describe_job_queues()["jobQueues"][0]["jobQueueName"] == local.queue
        batch.close()


@pytest.mark.integration
@pytest.mark.subprocess
def test_answered_requests_never_reach_an_active_moto_mock() -> None:
    from moto import mock_aws
    from moto.batch.models import batch_backends

    with mock_aws(), LocalBackend(["true"]) as local:
        batch = local.session.client("batch")  # the AWS endpoint URL, as a user would make it
        batch.register_job_definition(
            jobDefinitionName="only-local",
            type="container",
            containerProperties={"image": "i", "vcpus": 1, "memory": 16},
        )
        assert local.clients.batch.describe_job_definitions(jobDefinitionName="only-local")[
            "jobDefinitions"
        ]
        assert not batch_backends["123456789012"]["us-east-1"].describe_job_definitions()
        batch.close()
