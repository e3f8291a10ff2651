"""The local endpoint's server: which addresses count as this machine's, how clients reach it."""

from __future__ import annotations

import pytest

from pcr_sdk.local._server import connect_host, is_loopback


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.8.0.1", True), ("::1", True), ("localhost", True),
     ("0.0.0.0", False), ("::", False), ("192.168.1.5", False), ("example.com", False)],
)  # fmt: skip
def test_only_addresses_of_this_machine_count_as_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_a_server_on_every_address_is_reached_on_loopback() -> None:
    assert connect_host("0.0.0.0") == "127.0.0.1"
    assert connect_host("::1") == "[::1]"  # an IPv6 address in a URL is bracketed
    assert connect_host("10.0.0.2") == "10.0.0.2"
