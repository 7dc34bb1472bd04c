"""Shared fixtures: every test runs with network access blocked, so any attempt fails loudly."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from suanli.cli import main


class NetworkAccessError(RuntimeError):
    """Raised when code under test tries to reach the network."""


def _refuse(*args: object, **kwargs: object) -> None:
    raise NetworkAccessError(f"network access attempted: {args!r}")


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Block outbound connections and name lookups for the duration of every test."""
    monkeypatch.setattr(socket.socket, "connect", _refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", _refuse)
    monkeypatch.setattr(socket, "create_connection", _refuse)
    monkeypatch.setattr(socket, "getaddrinfo", _refuse)


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
