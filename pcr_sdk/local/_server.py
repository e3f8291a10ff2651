"""The local backend's HTTP server: waitress, bounded, with the gateway's screen on every head.

waitress reads requests on one event loop and hands only complete ones to a fixed pool of
worker threads, so a slow or half-open client holds a connection slot, never a thread; idle
connections are closed after `channel_timeout`, and no more than `connection_limit` are open at
once. It passes the request target exactly as sent (`REQUEST_URI`), which signature checks need.

One hook goes below its WSGI interface: the request parser calls `Screen` as soon as a request's
headers are in. A refused request (a foreign Host, an Origin, a bad S3 signature, a Batch or
Logs body over AWS's size) is answered at once and its connection closed: its body is never
received. Everything else is plain waitress.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol
from urllib.parse import urlsplit

from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import create_server
from waitress.utilities import Error

from pcr_sdk.local._gateway import Answer
from pcr_sdk.local._signature import RequestHead

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

logger = logging.getLogger(__name__)

_BACKLOG: Final = 128
_STOP_SECONDS: Final = 30
_ANY_ADDRESS: Final = frozenset({"", "0.0.0.0", "::"})  # noqa: S104 - names, not a binding
LOOPBACK_ADDRESSES: Final = frozenset({"127.0.0.1", "::1", "localhost"})


class Screen(Protocol):
    """`Gateway.screen`: a refusal for a request's head, or None to receive its body."""

    def screen(
        self, head: RequestHead, *, content_length: int | None, chunked: bool
    ) -> Answer | None: ...


@dataclass(frozen=True)
class ServerLimits:
    """How much of this machine the server may use, whoever connects."""

    threads: int = 8
    """Worker threads answering complete requests."""
    connection_limit: int = 512
    """Open connections; beyond them the server stops accepting until some close."""
    channel_timeout: int = 30
    """Seconds a connection may stay idle (no byte received) before the server closes it."""
    cleanup_interval: int = 5
    """Seconds between the checks for idle connections."""
    max_header_bytes: int = 64 * 1024
    """A request's line and headers (S3 allows 8 KiB of headers; SDKs send far less)."""
    max_body_bytes: int = 5 * 1024**3
    """Any request's body: S3's largest single PUT. Batch and Logs have far smaller limits."""


def is_loopback(host: str) -> bool:
    """True for an address that only this machine reaches."""
    return host in LOOPBACK_ADDRESSES or host.startswith("127.")


def connect_host(host: str) -> str:
    """How a client on this machine reaches a server bound to `host` (in a URL)."""
    if host in _ANY_ADDRESS:
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def moto_application() -> WSGIApplication:
    """moto's server application (S3)."""
    from moto.moto_server.werkzeug_app import (  # noqa: PLC0415 - heavy, loaded on start
        DomainDispatcherApplication,
        create_backend_app,
    )

    app: WSGIApplication = DomainDispatcherApplication(create_backend_app)
    return app


class _Refused(Error):
    """waitress's error answer, carrying the gateway's (AWS-shaped) refusal."""

    def __init__(self, answer: Answer) -> None:
        super().__init__(answer.body.decode())
        self.answer = answer

    # waitress writes the body as bytes; its stubs say str
    def to_response(self, ident: str | None = None) -> tuple[str, list[tuple[str, str]], Any]:
        del ident
        headers = [(n, v) for n, v in self.answer.headers if n.lower() != "content-length"]
        return self.answer.status_line, headers, self.answer.body


def _head(parser: HTTPRequestParser) -> RequestHead:
    """The head waitress parsed, as the gateway sees it (header names lower case, dashed)."""
    headers = {
        str(key).lower().replace("_", "-"): str(value) for key, value in parser.headers.items()
    }
    target = str(getattr(parser, "request_uri", ""))
    if target.startswith(("http://", "https://")):
        split = urlsplit(target)
        target = split.path + (f"?{split.query}" if split.query else "")
    url = f"http://{headers.get('host', '')}{target}"
    return RequestHead(str(getattr(parser, "command", "")), url, headers)


def _screened_channel(screen: Screen) -> type[HTTPChannel]:
    """waitress's channel class whose parser asks `screen` once the headers are in."""

    class ScreenedParser(HTTPRequestParser):
        def parse_header(self, header_plus: bytes) -> None:
            super().parse_header(header_plus)
            if not self.chunked and not int(self.content_length):
                # Nothing to continue with: waitress would send "100 Continue" and then wait
                # for a body that never comes (botocore asks for it on an empty PutObject).
                self.expect_continue = False
            answer = screen.screen(
                _head(self),
                content_length=None if self.chunked else int(self.content_length),
                chunked=bool(self.chunked),
            )
            if answer is not None:
                # Answer now and close: the body (if any) is never received.
                self.error = _Refused(answer)
                self.body_rcv = None
                self.content_length = 0
                self.chunked = False
                self.expect_continue = False
                self.connection_close = True

    class ScreenedChannel(HTTPChannel):
        parser_class = ScreenedParser

    return ScreenedChannel


class HttpServer:
    """`app` served on `host:port` (0: a free port) by waitress, in a thread of its own."""

    def __init__(
        self,
        app: WSGIApplication,
        *,
        host: str,
        port: int,
        screen: Screen,
        limits: ServerLimits | None = None,
    ) -> None:
        limits = limits or ServerLimits()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        listener = socket.create_server((host, port), family=family, backlog=_BACKLOG)
        try:
            server: Any = create_server(
                app,
                sockets=[listener],
                threads=limits.threads,
                connection_limit=limits.connection_limit,
                channel_timeout=limits.channel_timeout,
                cleanup_interval=limits.cleanup_interval,
                max_request_header_size=limits.max_header_bytes,
                max_request_body_size=limits.max_body_bytes,
                backlog=_BACKLOG,
                asyncore_use_poll=True,  # select() fails past 1024 descriptors
                ident="pcr-local",
                clear_untrusted_proxy_headers=False,
            )
        except BaseException:
            listener.close()
            raise
        # one listening socket: a single server, not a MultiSocketServer (stubs lack some
        # attributes: effective_host/port, _map)
        self._server: Any = server
        self._server.channel_class = _screened_channel(screen)
        self._map = self._server._map  # its socket map, to close it all
        self._thread = threading.Thread(
            target=self._server.run, name="pcr-local-server", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.effective_port)

    @property
    def address(self) -> str:
        """The address the socket is bound to."""
        return str(self._server.effective_host)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Close the listening socket and every connection, then stop the worker threads."""
        if self._thread.is_alive():
            trigger: Any = self._server.trigger  # its stubs call it an int
            # run on the server's loop, which ends once its socket map is empty; OSError: the
            # loop, woken by a worker, ran it (closing the trigger) before this write
            with contextlib.suppress(OSError):
                trigger.pull_trigger(lambda: wasyncore.close_all(self._map))
            self._thread.join(_STOP_SECONDS)
            if self._thread.is_alive():  # pragma: no cover - the loop ignored the close
                logger.warning("local backend: the HTTP server did not stop")
        else:
            wasyncore.close_all(self._map)
        self._server.task_dispatcher.shutdown()
