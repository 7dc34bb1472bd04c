"""How a scenario's ``as_of`` view is reported: what it left out, and what it still used."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from suanli.cli.output import console, err_console
from suanli.scenario.dated import DatedEntry


def print_dating(
    as_of: str, excluded: Sequence[DatedEntry], used: Sequence[DatedEntry], *, detail: bool = False
) -> None:
    """One line on the entries left out (each listed with ``detail``); a warning per later figure used."""
    if excluded:
        kinds = Counter(e.kind for e in excluded)
        summary = ", ".join(f"{n} {kind}{'s' if n > 1 else ''}" for kind, n in sorted(kinds.items()))
        console.print(f"as of {as_of}: left out what was published later ({summary})")
        if detail:
            for e in excluded:
                console.print(f"  {e.kind} {e.record} ({e.date}): {e.source}")
    explained = [e for e in used if e.reason is not None]
    if explained:
        console.print(f"as of {as_of}: used although published later ({len(explained)}, see later_evidence)")
        if detail:
            for e in explained:
                console.print(f"  {e.record} ({e.date}): {e.reason}")
    for e in used:
        if e.reason is None:
            err_console.print(
                f"[yellow]warning:[/] {e.record} is dated {e.date}, after as_of {as_of}, yet used: {e.source}"
            )
