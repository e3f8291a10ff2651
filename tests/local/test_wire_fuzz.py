"""Malformed Batch and Logs requests, drawn from botocore's service model, through the gateway.

Every request is signed with the backend's keys (so it passes the screen) and answered by the
engine; whatever its body, the answer is a 200 or a 400 with AWS's JSON error shape, never a
500 or an HTML page. The engine is not started: no job runs."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.model import Shape, StructureShape
from hypothesis import given
from hypothesis import strategies as st

from pcr_sdk.local._capacity import Resources
from pcr_sdk.local._credentials import LocalCredentials
from pcr_sdk.local._engine import BatchEngine
from pcr_sdk.local._gateway import Gateway, allowed_hosts
from pcr_sdk.local._logs import LogStore
from pcr_sdk.local._process import ContainerRun, LaunchError, LineSink, ProcessHandle
from pcr_sdk.local._signature import Verifier
from pcr_sdk.local._wire import JsonEndpoint, RestJsonEndpoint, service_model

HOST: Final = "127.0.0.1:4575"
KEYS: Final = LocalCredentials.generate()
BATCH: Final = service_model("batch")
LOGS: Final = service_model("logs")
ANY_JSON: Final = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


class _NoLaunch:
    def start(self, run: ContainerRun, sink: LineSink) -> ProcessHandle:
        raise LaunchError("the fuzz test starts nothing")


def _values(shape: Shape, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values of `shape` (sometimes of any other JSON type instead)."""
    if depth > 4:
        return ANY_JSON
    kind = shape.type_name
    right: st.SearchStrategy[Any]
    if kind == "string":
        enum: list[str] = getattr(shape, "enum", [])
        right = st.sampled_from(enum) | st.text(max_size=12) if enum else st.text(max_size=12)
    elif kind in ("integer", "long", "timestamp"):
        right = st.integers(min_value=-(2**70), max_value=2**70)
    elif kind in ("double", "float"):
        right = st.floats()
    elif kind == "boolean":
        right = st.booleans()
    elif kind == "list":
        right = st.lists(_values(shape.member, depth + 1), max_size=3)  # type: ignore[attr-defined]
    elif kind == "map":
        right = st.dictionaries(st.text(max_size=8), _values(shape.value, depth + 1), max_size=3)  # type: ignore[attr-defined]
    elif isinstance(shape, StructureShape):
        right = _structures(shape, depth + 1)
    else:
        right = ANY_JSON
    return st.one_of(right, right, right, ANY_JSON)


def _structures(shape: StructureShape, depth: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    members = {name: _values(member, depth) for name, member in shape.members.items()}
    return st.fixed_dictionaries({}, optional=members)


def _operations() -> list[tuple[str, str]]:
    engine_ops = sorted(_engine_operations())
    return [("batch", name) for name in engine_ops] + [("logs", "GetLogEvents")]


def _engine_operations() -> set[str]:
    return {
        "RegisterJobDefinition", "DeregisterJobDefinition", "DescribeJobDefinitions",
        "DescribeJobQueues", "SubmitJob", "DescribeJobs", "ListJobs", "CancelJob",
        "TerminateJob", "TagResource", "UntagResource", "ListTagsForResource",
    }  # fmt: skip


@st.composite
def _requests(draw: st.DrawFn) -> tuple[str, str, str, bytes, dict[str, str]]:
    """(service, method, path, body, extra headers) of one fuzzed request."""
    service, name = draw(st.sampled_from(_operations()))
    model = BATCH if service == "batch" else LOGS
    operation = model.operation_model(name)
    params: dict[str, Any] = (
        draw(_structures(operation.input_shape)) if operation.input_shape is not None else {}
    )
    if service == "logs":
        target = {"X-Amz-Target": f"Logs_20140328.{name}"}
        return service, "POST", "/", json.dumps(params).encode(), target
    path = operation.http["requestUri"].split("?", 1)[0]
    for label in ("resourceArn",):
        if "{" + label + "}" in path:
            value = draw(st.text(min_size=1, max_size=20))
            path = path.replace("{" + label + "}", quote(value, safe=""))
            params.pop(label, None)
    body = b"" if operation.http["method"] in ("GET", "DELETE") else json.dumps(params).encode()
    return service, operation.http["method"], path, body, {}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    logs = LogStore(clock_ms=lambda: 0, directory=tmp_path_factory.mktemp("logs"))
    engine = BatchEngine(
        _NoLaunch(), logs, queue="q", region="us-east-1", capacity=Resources(4, 4096, 0)
    )
    gateway = Gateway(Verifier(KEYS), allowed_hosts("127.0.0.1"), _not_s3)
    gateway.route("batch", RestJsonEndpoint(BATCH, engine.operations()))
    gateway.route("logs", JsonEndpoint(LOGS, {"GetLogEvents": logs.get_log_events}))
    yield gateway
    logs.close()


def _not_s3(environ: Any, start_response: Any) -> list[bytes]:
    raise AssertionError("a Batch or Logs request reached S3")


def _call(
    gateway: Gateway, service: str, method: str, path: str, body: bytes, headers: dict[str, str]
) -> tuple[int, dict[str, str], bytes]:
    request = AWSRequest(method, f"http://{HOST}{path}", data=body, headers=headers)
    request.headers["Host"] = HOST
    request.headers["Content-Type"] = "application/x-amz-json-1.1"
    SigV4Auth(
        Credentials(KEYS.access_key_id, KEYS.secret_access_key), service, "us-east-1"
    ).add_auth(request)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "REQUEST_URI": path,
        "PATH_INFO": path.split("?", maxsplit=1)[0],
        "QUERY_STRING": "",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    for name, value in request.headers.items():
        key = name.upper().replace("-", "_")
        environ[key if key == "CONTENT_TYPE" else f"HTTP_{key}"] = str(value)
    answered: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]], _: Any = None) -> Any:
        answered["status"] = int(status.split(maxsplit=1)[0])
        answered["headers"] = {k.lower(): v for k, v in response_headers}
        return lambda data: None

    content = b"".join(gateway(environ, start_response))
    return answered["status"], answered["headers"], content


def _assert_aws_shaped(status: int, headers: dict[str, str], content: bytes) -> None:
    assert status in (200, 400), (status, content[:300])
    decoded = json.loads(content)
    assert isinstance(decoded, dict)
    if status == 400:
        assert headers.get("x-amzn-errortype") or decoded.get("__type"), content[:300]
        assert isinstance(decoded.get("message"), str)


@given(_requests())
def test_fuzzed_batch_and_logs_requests_get_200_or_awss_400(
    gateway: Gateway, request: tuple[str, str, str, bytes, dict[str, str]]
) -> None:
    _assert_aws_shaped(*_call(gateway, *request))


RAW_BODIES: Final = [
    ("batch", "/v1/registerjobdefinition", b"\xff\xfe not utf-8"),
    ("batch", "/v1/submitjob", b"[" * 20_000),  # nested past the recursion limit
    ("batch", "/v1/submitjob", b'{"jobName": "a", "jobQueue": "q", "jobDefinition": "d", '
                               b'"arrayProperties": [1]}'),
    ("batch", "/v1/registerjobdefinition", b'{"jobDefinitionName": "a", "type": "container", '
                                           b'"containerProperties": {"image": "x"}, "tags": "ab"}'),
    ("batch", "/v1/listjobs", b'{"jobQueue": "q", "nextToken": "' + b"9" * 5000 + b'"}'),
    ("batch", "/v1/describejobs", b'{"jobs": "x"}'),
    ("batch", "/v1/describejobs", b"Infinity"),
    ("logs", "/", b'{"logGroupName": "/aws/batch/job", "logStreamName": "s", "limit": "abc"}'),
    ("logs", "/", b'{"logGroupName": "/aws/batch/job", "logStreamName": "s", "nextToken": "f/'
                  + b"9" * 5000 + b'"}'),
    ("logs", "/", b"\xc3\x28"),
]  # fmt: skip


@pytest.mark.parametrize(("service", "path", "body"), RAW_BODIES)
def test_malformed_bodies_get_awss_400(
    gateway: Gateway, service: str, path: str, body: bytes, tmp_path: Path
) -> None:
    headers = {"X-Amz-Target": "Logs_20140328.GetLogEvents"} if service == "logs" else {}
    status, answer, content = _call(gateway, service, "POST", path, body, headers)
    assert status == 400, content[:300]
    _assert_aws_shaped(status, answer, content)
