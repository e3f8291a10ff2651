"""The local backend on the wire: one HTTP endpoint for AWS Batch, CloudWatch Logs and S3.

Every AWS SDK signs its requests with SigV4, whose credential scope
(`Credential=AKID/date/region/<service>/aws4_request`) names the service. `Gateway` answers
`batch` and `logs` from the local engine through the same endpoints the backend's own clients
use in-process (`_wire`), and hands every other request (S3) to moto's server application.
So a plain `boto3.client("batch", endpoint_url=...)`, the AWS CLI, or a job using the
`AWS_ENDPOINT_URL` it is given all reach the engine.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qs, quote, urlsplit

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.compat import HTTPHeaders
from werkzeug.serving import BaseWSGIServer, make_server, select_address_family
from werkzeug.wrappers import Request

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

logger = logging.getLogger(__name__)

Handler = Callable[[AWSPreparedRequest], AWSResponse]
"""A `_wire` endpoint: `RestJsonEndpoint` or `JsonEndpoint`."""

_CREDENTIAL: Final = re.compile(r"Credential=([^,\s]+)")
_LOGS_TARGET_PREFIX: Final = "Logs_"
_BACKLOG: Final = 128
_ANY_ADDRESS: Final = frozenset({"", "0.0.0.0", "::"})  # noqa: S104 - names, not a binding


def signing_service(environ: WSGIEnvironment) -> str | None:
    """The service a request is for: its SigV4 credential scope, else its JSON target."""
    scope = ""
    found = _CREDENTIAL.search(str(environ.get("HTTP_AUTHORIZATION", "")))
    if found is not None:
        scope = found.group(1)
    else:  # a presigned URL carries the scope in its query
        scope = parse_qs(str(environ.get("QUERY_STRING", ""))).get("X-Amz-Credential", [""])[0]
    parts = scope.split("/")
    if len(parts) >= 5 and parts[-1] == "aws4_request":
        return parts[-2].lower()
    if str(environ.get("HTTP_X_AMZ_TARGET", "")).startswith(_LOGS_TARGET_PREFIX):
        return "logs"
    return None


def _request_uri(environ: WSGIEnvironment) -> str:
    """The path and query as the client sent them (percent-encoding intact)."""
    raw = str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or "")
    if raw.startswith(("http://", "https://")):  # an absolute request target
        split = urlsplit(raw)
        raw = split.path + (f"?{split.query}" if split.query else "")
    if raw:
        return raw
    query = str(environ.get("QUERY_STRING", ""))
    path = quote(str(environ.get("PATH_INFO", "")), safe="/:@!$&'()*+,;=-._~")
    return path + (f"?{query}" if query else "")


def prepared_request(environ: WSGIEnvironment) -> AWSPreparedRequest:
    """The incoming HTTP request as botocore would have sent it (what `_wire` decodes)."""
    request = Request(environ)
    headers = HTTPHeaders()
    for name, value in request.headers.items():
        headers[name] = value
    host = request.host or "localhost"
    url = f"{request.scheme}://{host}{_request_uri(environ)}"
    return AWSPreparedRequest(request.method, url, headers, request.get_data(), False)


class Gateway:
    """A WSGI application: the services in `endpoints` answered locally, the rest by `fallback`."""

    def __init__(self, endpoints: Mapping[str, Handler], fallback: WSGIApplication) -> None:
        self._endpoints = dict(endpoints)
        self._fallback = fallback

    def route(self, service: str, endpoint: Handler) -> None:
        """Answer requests signed for `service` (e.g. `batch`) with `endpoint`."""
        self._endpoints[service] = endpoint

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        endpoint = self._endpoints.get(signing_service(environ) or "")
        if endpoint is None:
            return self._fallback(environ, start_response)
        response = endpoint(prepared_request(environ))
        status = response.status_code
        body = response.content
        headers = [(name, str(value)) for name, value in response.headers.items()]
        start_response(f"{status} {HTTPStatus(status).phrase}", headers)
        return [body]


def moto_application() -> tuple[WSGIApplication, type[Any]]:
    """moto's server application (S3 and the rest) and its request handler class."""
    from moto.moto_server.werkzeug_app import (  # noqa: PLC0415 - heavy, loaded on start
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )

    return DomainDispatcherApplication(create_backend_app), MotoRequestHandler


def connect_host(host: str) -> str:
    """How a client on this machine reaches a server bound to `host` (in a URL)."""
    if host in _ANY_ADDRESS:
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


class HttpServer:
    """A threaded HTTP server running `app` on `host:port` (0: a free port) in a thread."""

    def __init__(
        self,
        app: WSGIApplication,
        *,
        host: str,
        port: int,
        request_handler: type[Any] | None = None,
    ) -> None:
        # Bound here: werkzeug's own binding ends the process (sys.exit) on an address in use.
        family = select_address_family(host, port)
        with socket.create_server((host, port), family=family, backlog=_BACKLOG) as listener:
            self._server: BaseWSGIServer = make_server(
                host,
                port,
                app,
                threaded=True,
                request_handler=request_handler,
                fd=listener.fileno(),  # werkzeug serves a duplicate of it
            )
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="pcr-local-server",
            daemon=True,
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting requests and close the socket."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()
