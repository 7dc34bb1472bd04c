"""``python -m suanli`` runs the command line."""

from suanli.cli import run

run()
