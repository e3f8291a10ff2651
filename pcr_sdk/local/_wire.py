"""Answer boto3 requests in-process, as an AWS endpoint would.

A botocore `before-send` handler receives the signed HTTP request a real client would send,
decodes it the way the service does (rest-json for Batch: operation from method and URL path;
json for CloudWatch Logs: operation from the `X-Amz-Target` header), calls the local operation
and returns an `AWSResponse` that botocore parses exactly like one from the network. Errors are
answered as AWS answers them (status, error code, message), so callers see a normal `ClientError`.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.compat import HTTPHeaders
from botocore.loaders import create_loader
from botocore.model import OperationModel, ServiceModel
from botocore.validate import ParamValidator

from pcr_sdk.local import _refusals as refusal
from pcr_sdk.local._refusals import Check, ServiceError

logger = logging.getLogger(__name__)

JsonObject = dict[str, Any]
Operation = Callable[[JsonObject], JsonObject]

_LABEL: Final = re.compile(r"\{([A-Za-z0-9_]+)(\+?)\}")
_ANSWERED_HOST: Final = "pcr-local.invalid"


def _claim(request: AWSPreparedRequest) -> None:
    """Point an answered request at a host nobody serves.

    Every `before-send` handler sees the request; moto's mock (if one is active) would also
    execute it when the URL still names an AWS endpoint.
    """
    url = urlsplit(request.url)
    request.url = urlunsplit((url.scheme, _ANSWERED_HOST, url.path, url.query, url.fragment))


class _RawBody:
    """The `raw` object botocore reads a response body from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def _response(url: str, status: int, body: bytes, headers: Mapping[str, str]) -> AWSResponse:
    http_headers = HTTPHeaders()
    for name, value in headers.items():
        http_headers[name] = value
    http_headers["x-amzn-RequestId"] = str(uuid.uuid4())
    http_headers["Content-Length"] = str(len(body))
    return AWSResponse(url, status, http_headers, _RawBody(body))


def _body_text(request: AWSPreparedRequest) -> str:
    body = request.body
    if body is None:
        return ""
    if isinstance(body, str):
        return body
    data = bytes(body) if isinstance(body, (bytes, bytearray)) else body.read()
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise refusal.MALFORMED_BODY.refuse(problem=f"is not UTF-8: {err}") from err


def _load_object(text: str) -> JsonObject:
    if not text.strip():
        return {}
    try:
        loaded = json.loads(text)
    except json.JSONDecodeError as err:
        raise refusal.MALFORMED_BODY.refuse(problem=f"is not JSON: {err}") from err
    except RecursionError as err:  # nested deeper than the interpreter's recursion limit
        raise refusal.MALFORMED_BODY.refuse(problem="is nested too deeply") from err
    if not isinstance(loaded, dict):
        raise refusal.MALFORMED_BODY.refuse(problem="is not a JSON object")
    return loaded


def _check_shape(params: JsonObject, operation: OperationModel, check: Check) -> None:
    """Refuse what botocore's model of the operation refuses (types, required members).

    Members the model does not know are let through: AWS ignores them, and a newer SDK may
    send some.
    """
    if operation.input_shape is None:
        return
    report = ParamValidator().validate(params, operation.input_shape)
    problems = [
        line
        for line in report.generate_report().splitlines()
        if line and not line.startswith(("Unknown parameter", "Parameter validation failed"))
    ]
    if problems:
        raise check.refuse(problems=" ".join(problems))


@functools.cache
def service_model(name: str) -> ServiceModel:
    """botocore's model of service `name` (the one its clients are built from).

    Parsed once per process: every local backend's endpoints share it (a model is read-only
    once built, and parsing Batch's and Logs' took half of a backend's start).
    """
    return ServiceModel(create_loader().load_service_model(name, "service-2"), service_name=name)


class _Route:
    def __init__(self, operation: str, method: str, template: str, model: ServiceModel) -> None:
        self.operation = operation
        self.method = method
        path = template.split("?", 1)[0]
        pattern = ""
        last = 0
        for match in _LABEL.finditer(path):
            pattern += re.escape(path[last : match.start()])
            pattern += f"(?P<{match.group(1)}>{'.+' if match.group(2) else '[^/]+'})"
            last = match.end()
        pattern += re.escape(path[last:])
        self.regex = re.compile(f"^{pattern}/?$")
        self.query: dict[str, tuple[str, bool]] = {}
        op_model = model.operation_model(operation)
        members = op_model.input_shape.members if op_model.input_shape is not None else {}
        for member, shape in members.items():
            if shape.serialization.get("location") == "querystring":
                self.query[shape.serialization.get("name", member)] = (
                    member,
                    shape.type_name == "list",
                )


class RestJsonEndpoint:
    """A `before-send` handler serving a rest-json service (AWS Batch) from local operations."""

    def __init__(self, model: ServiceModel, operations: Mapping[str, Operation]) -> None:
        self._model = model
        self._operations = dict(operations)
        self._routes = [
            _Route(
                name,
                model.operation_model(name).http["method"],
                model.operation_model(name).http["requestUri"],
                model,
            )
            for name in model.operation_names
        ]

    def __call__(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        url = request.url
        _claim(request)
        try:
            body = self._dispatch(request, url)
        except ServiceError as err:
            logger.debug("local %s -> %s", url, err)
            payload = json.dumps({"message": err.message}).encode()
            return _response(
                url,
                err.status,
                payload,
                {"Content-Type": "application/json", "x-amzn-ErrorType": err.code},
            )
        return _response(url, 200, json.dumps(body).encode(), {"Content-Type": "application/json"})

    def _dispatch(self, request: AWSPreparedRequest, full_url: str) -> JsonObject:
        url = urlsplit(full_url)
        for route in self._routes:
            if route.method != request.method.upper():
                continue
            match = route.regex.match(url.path)
            if match is None:
                continue
            params = _load_object(_body_text(request))
            params.update({name: unquote(value) for name, value in match.groupdict().items()})
            for key, values in parse_qs(url.query).items():
                if key in route.query:
                    member, is_list = route.query[key]
                    params[member] = values if is_list else values[0]
            operation = self._operations.get(route.operation)
            if operation is None:
                raise refusal.BATCH_NOT_IMPLEMENTED.refuse(operation=route.operation)
            _check_shape(params, self._model.operation_model(route.operation), refusal.BATCH_SHAPE)
            return operation(params)
        raise refusal.UNKNOWN_OPERATION.refuse(method=request.method, path=url.path)


class JsonEndpoint:
    """A `before-send` handler serving a json-protocol service (CloudWatch Logs)."""

    def __init__(self, model: ServiceModel, operations: Mapping[str, Operation]) -> None:
        self._model = model
        self._operations = dict(operations)

    def __call__(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        header: object = request.headers.get("X-Amz-Target")  # bytes at run time, str in stubs
        target = header.decode() if isinstance(header, bytes) else str(header or "")
        name = target.rsplit(".", 1)[-1]
        headers = {"Content-Type": "application/x-amz-json-1.1"}
        url = request.url
        _claim(request)
        try:
            operation = self._operations.get(name)
            if operation is None:
                raise refusal.LOGS_NOT_IMPLEMENTED.refuse(operation=name or target)
            params = _load_object(_body_text(request))
            _check_shape(params, self._model.operation_model(name), refusal.LOGS_SHAPE)
            body = operation(params)
        except ServiceError as err:
            logger.debug("local %s -> %s", target, err)
            payload = json.dumps({"__type": err.code, "message": err.message}).encode()
            return _response(url, err.status, payload, headers)
        return _response(url, 200, json.dumps(body).encode(), headers)
