"""suanli never touches the network: the guard works, and every command runs under it."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import NetworkAccessError


def test_guard_blocks_connections() -> None:
    with pytest.raises(NetworkAccessError):
        socket.create_connection(("127.0.0.1", 9))
    sock = socket.socket()
    try:
        with pytest.raises(NetworkAccessError):
            sock.connect(("127.0.0.1", 9))
    finally:
        sock.close()


@pytest.mark.parametrize(
    "args",
    [
        ["catalog", "list"],
        ["catalog", "show", "ascend-910c", "--json"],
        ["models", "list"],
        ["order"],
        ["audit", "--json"],
        ["sovereignty", "--json"],
        ["standoff", "--json"],
    ],
)
def test_commands_run_offline(cli, args: list[str]) -> None:
    # The autouse guard turns any connection attempt into an internal error (exit 1).
    assert cli(*args).code == 0


@pytest.mark.allow_loopback
def test_loopback_guard_still_refuses_other_hosts() -> None:
    with pytest.raises(NetworkAccessError):
        socket.create_connection(("192.0.2.1", 80))
    with pytest.raises(NetworkAccessError):
        socket.getaddrinfo("example.com", 443)
