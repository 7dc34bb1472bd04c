"""Command-line interface (Typer + Rich). Holds no logic: it calls the Python API."""

from suanli.cli.app import app, main, run

__all__ = ["app", "main", "run"]
