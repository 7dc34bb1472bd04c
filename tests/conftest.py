"""Shared fixtures: every test runs with network access blocked, so any attempt fails loudly.

Tests marked ``allow_loopback`` (the Dask executor talks to its local cluster over
127.0.0.1) may reach loopback addresses and nothing else.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from suanli.cli import main


class NetworkAccessError(RuntimeError):
    """Raised when code under test tries to reach the network."""


def _refuse(*args: object, **kwargs: object) -> None:
    raise NetworkAccessError(f"network access attempted: {args!r}")


_LOOPBACK = {"127.0.0.1", "::1", "localhost", "", None}


def _host(args: tuple[object, ...]) -> object:
    for arg in args:
        if isinstance(arg, tuple) and arg:
            return arg[0]
        if isinstance(arg, str | type(None)):
            return arg
    return None


def _loopback_only(original: object) -> object:
    def guarded(*args: object, **kwargs: object) -> object:
        host = _host(args[1:] if args and isinstance(args[0], socket.socket) else args)
        if host not in _LOOPBACK and not (isinstance(host, str) and host.startswith("127.")):
            _refuse(*args)
        return original(*args, **kwargs)  # type: ignore[operator]

    return guarded


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    """Block outbound connections and name lookups for the duration of every test."""
    loopback = request.node.get_closest_marker("allow_loopback") is not None
    for owner, name in (
        (socket.socket, "connect"),
        (socket.socket, "connect_ex"),
        (socket, "create_connection"),
        (socket, "getaddrinfo"),
    ):
        replacement = _loopback_only(getattr(owner, name)) if loopback else _refuse
        monkeypatch.setattr(owner, name, replacement)


class CliResult:
    """Exit code and captured output of one in-process run of the command line."""

    def __init__(self, code: int, out: str, err: str) -> None:
        self.code = code
        self.out = out
        self.err = err


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> object:
    """Run ``suanli ARGS`` in-process through :func:`suanli.cli.main`."""

    def run(*args: str | Path) -> CliResult:
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run
