"""Lines that explain a result: what a scenario's ``as_of`` view left out, and why supply fell short."""

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


#: How limits are named in sentences.
LIMIT_NAMES = {"vendor": "vendor capacity", "total_cap": "licence cap", "hbm": "HBM", "smic-n2": "SMIC 7 nm"}


def supply_reasons(p_miss: dict[str, float]) -> str | None:
    """The sentence naming why supply missed the target and how often, or None if it never did."""
    total = p_miss.get("any", 0.0)
    if total <= 0:
        return None
    parts = sorted(((p, k) for k, p in p_miss.items() if k != "any" and p > 0), reverse=True)
    named = ", ".join(f"{LIMIT_NAMES.get(k, k)} {p:.0%}" for p, k in parts)
    return f"missed the target for supply reasons in {total:.0%} of paths ({named})"
