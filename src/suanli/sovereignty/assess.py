"""A scenario's candidates scored on sovereignty, beside their cost and performance.

:func:`scores_for` gives each candidate's score per criterion in one deployment mode: the
register's score (:mod:`suanli.sovereignty.register`) unless the scenario overrides it with a
reason. :func:`sovereignty_report` adds each candidate's chip price and useful work per chip,
so that sovereignty is read beside cost and performance and never folded into them; the
weighted score it shows is the scenario's weights over the criteria, labelled as such, with
every item behind it kept.

Overrides
---------
A scenario may set a criterion's score by hand, with a reason and optionally the modes it
holds in. The format, for the scenario's ``sovereignty`` section::

    overrides:
      ascend-910c:
        ecosystem_maturity: {score: 0.7, reason: "our team has run CANN in production since 2024"}
        supply_security: {score: 0.5, reason: "...", modes: [own_dc]}

Until the scenario schema has that field, the section's ``scores`` (no reason, no mode) are
read as overrides of the own-data-centre mode, reason "scenario's hand-set score": they were
set for the buyer's own fleet, and carrying them into a cloud mode would misstate them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from suanli.catalog.loader import Catalog
from suanli.errors import InfeasibleError, InputValueError
from suanli.scenario.compile import ScenarioCompiler, scenario_workload
from suanli.scenario.model import Scenario
from suanli.sovereignty.register import (
    CRITERIA,
    MODES,
    SCORING_RULE,
    DerivedScore,
    Mode,
    Register,
    RegisterItem,
    builtin_register,
    derived_scores,
)


class Override(BaseModel):
    """A score the scenario sets by hand for one candidate and criterion, with its reason."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    score: float = Field(ge=0, le=1)
    reason: str = Field(min_length=3)
    modes: tuple[Mode, ...] = MODES


class CriterionView(BaseModel):
    """One criterion of one candidate in one mode: the score used, and what it rests on."""

    model_config = ConfigDict(frozen=True)

    criterion: str
    weight: float | None  # the scenario's weight; None where it sets none
    score: float | None  # the override where there is one, else the register's
    basis: Literal["register", "override", "none"]
    derived: float | None  # the register's score, shown even where overridden
    reason: str | None  # why the scenario overrides it
    items: tuple[RegisterItem, ...]
    superseded: tuple[str, ...]
    unknowns: int


class CandidateSovereignty(BaseModel):
    """A candidate in one mode: price and useful work per chip beside its sovereignty scores."""

    model_config = ConfigDict(frozen=True)

    accelerator: str
    mode: Mode
    price_per_chip: float | None  # scenario currency, as known on as_of
    price_note: str | None  # why there is no price
    work_per_chip: float | None  # useful work per chip on the scenario's workload
    work_note: str | None  # why there is no figure
    criteria: tuple[CriterionView, ...]
    weighted_score: float | None  # the scenario's weights over the criteria; not a verdict
    weighted_note: str | None  # why there is no weighted score
    later_items: int  # register items for this candidate and mode dated after as_of


class SovereigntyReport(BaseModel):
    """What ``suanli sovereignty`` returns."""

    model_config = ConfigDict(frozen=True)

    scenario: str
    title: str
    as_of: str
    currency: str
    work_unit: str
    modes: tuple[Mode, ...]
    weights: dict[str, float] | None
    weights_source: str | None
    scoring_rule: str
    candidates: tuple[CandidateSovereignty, ...]
    later_items: int  # distinct register items about the candidates shown, dated after as_of


def scenario_overrides(scenario: Scenario) -> dict[str, dict[str, Override]]:
    """The scores the scenario sets by hand, as overrides (see the module docstring)."""
    section = scenario.sovereignty
    if section is None:
        return {}
    out: dict[str, dict[str, Override]] = {}
    for accelerator, scores in section.scores.items():
        for criterion, value in scores.items():
            out.setdefault(accelerator, {})[criterion] = Override(
                score=value, reason=f"scenario's hand-set score ({section.source})", modes=("own_dc",)
            )
    # The field the scenario schema is to gain; read defensively until it exists.
    explicit = getattr(section, "overrides", None) or {}
    for accelerator, criteria in explicit.items():
        for criterion, given in criteria.items():
            data = given.model_dump() if isinstance(given, BaseModel) else given
            out.setdefault(accelerator, {})[criterion] = Override.model_validate(data)
    return out


def weighted_score(views: Iterable[CriterionView]) -> float | None:
    """The weighted mean of the weighted criteria's scores; None if one of them has no score."""
    return _weighted(tuple(views))[0]


def _weighted(views: tuple[CriterionView, ...]) -> tuple[float | None, str | None]:
    weighted = [v for v in views if v.weight]
    if not weighted:
        return None, "the scenario sets no weights"
    missing = [v.criterion for v in weighted if v.score is None]
    if missing:
        return None, f"no score on {', '.join(missing)}"
    total = sum(v.weight or 0.0 for v in weighted)
    return sum((v.weight or 0.0) * (v.score or 0.0) for v in weighted) / total, None


def scores_for(
    scenario: Scenario,
    mode: Mode = "own_dc",
    *,
    register: Register | None = None,
    catalog: Catalog | None = None,
) -> dict[str, dict[str, CriterionView]]:
    """Each candidate's score per criterion in ``mode``, as known on the scenario's ``as_of``.

    The register's scores (:func:`~suanli.sovereignty.register.derived_scores`) with the
    scenario's overrides laid over them; criteria the scenario weighs but the register does
    not score appear too, with a score only where overridden.
    """
    register = register or builtin_register()
    derived = derived_scores(register, scenario.candidates, mode, scenario.as_of, catalog)
    overrides = scenario_overrides(scenario)
    weights = {} if scenario.sovereignty is None else scenario.sovereignty.weights
    criteria = [*CRITERIA, *(c for c in weights if c not in CRITERIA)]
    out: dict[str, dict[str, CriterionView]] = {}
    for accelerator in scenario.candidates:
        by_criterion: dict[str, DerivedScore] = {str(c): d for c, d in derived[accelerator].items()}
        views: dict[str, CriterionView] = {}
        for criterion in criteria:
            base = by_criterion.get(criterion)
            over = overrides.get(accelerator, {}).get(criterion)
            if over is not None and mode not in over.modes:
                over = None
            score = base.score if base is not None else None
            views[criterion] = CriterionView(
                criterion=criterion,
                weight=weights.get(criterion),
                score=over.score if over is not None else score,
                basis="override" if over is not None else ("register" if score is not None else "none"),
                derived=score,
                reason=None if over is None else over.reason,
                items=() if base is None else base.items,
                superseded=() if base is None else base.superseded,
                unknowns=0 if base is None else base.unknowns,
            )
        out[accelerator] = views
    return out


def sovereignty_report(
    scenario: Scenario,
    modes: tuple[Mode, ...] = ("own_dc",),
    *,
    as_of: str | None = None,
    register: Register | None = None,
    compiler: ScenarioCompiler | None = None,
) -> SovereigntyReport:
    """Sovereignty scores of the scenario's candidates beside their price and useful work per chip.

    Parameters
    ----------
    scenario
        A loaded scenario; its ``candidates`` are the accelerators shown.
    modes
        Deployment modes to score, in order.
    as_of
        View date replacing the scenario's own (prices, performance evidence and register
        items dated later are left out); default the scenario's ``as_of``.
    register, compiler
        The register (default the built-in one) and the compiler that prices and sizes the
        candidates (default a fresh one over the built-in catalog).
    """
    if not scenario.candidates:
        raise InputValueError("the scenario has no candidates to score", field="candidates")
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        raise InputValueError(
            f"must be one of {', '.join(MODES)} (got {', '.join(map(repr, unknown)) or 'none'})", field="mode"
        )
    if as_of is not None:
        scenario = scenario.model_copy(update={"as_of": as_of})
    register = register or builtin_register()
    compiler = compiler or ScenarioCompiler()
    catalog = compiler.catalog
    section = scenario.sovereignty
    later = register.later(scenario.as_of)
    later_about: set[str] = set()
    cost_and_work = {a: _cost_and_work(scenario, a, compiler) for a in scenario.candidates}
    candidates = []
    for mode in modes:
        views = scores_for(scenario, mode, register=register, catalog=catalog)
        for accelerator in scenario.candidates:
            criteria = tuple(views[accelerator].values())
            weighted, why = _weighted(criteria)
            record = catalog.accelerator(accelerator)
            after = [i for i in later if i.applies(record, mode)]
            later_about.update(i.id for i in after)
            price, price_note, work, work_note = cost_and_work[accelerator]
            candidates.append(
                CandidateSovereignty(
                    accelerator=accelerator,
                    mode=mode,
                    price_per_chip=price,
                    price_note=price_note,
                    work_per_chip=work,
                    work_note=work_note,
                    criteria=criteria,
                    weighted_score=weighted,
                    weighted_note=why,
                    later_items=len(after),
                )
            )
    workload = scenario_workload(scenario)
    return SovereigntyReport(
        scenario=scenario.id,
        title=scenario.title,
        as_of=scenario.as_of,
        currency=scenario.economics.currency,
        work_unit=f"tokens/s per chip on {workload.title}",
        modes=modes,
        weights=None if section is None else dict(section.weights),
        weights_source=None if section is None else section.source,
        scoring_rule=SCORING_RULE,
        candidates=tuple(candidates),
        later_items=len(later_about),
    )


def _cost_and_work(
    scenario: Scenario, accelerator: str, compiler: ScenarioCompiler
) -> tuple[float | None, str | None, float | None, str | None]:
    """Chip price and useful work per chip; a missing one is reported, not a reason to stop."""
    price: float | None = None
    price_note = work_note = None
    work: float | None = None
    try:
        # One candidate at a time, so that one part without a price known on as_of does not
        # hide the others' prices.
        price = compiler.prices(scenario.model_copy(update={"candidates": (accelerator,)}))[accelerator]
    except InputValueError as exc:
        price_note = exc.problem
    try:
        work = compiler.rate(scenario, accelerator)[0]
    except InfeasibleError as exc:
        work_note = str(exc)
    return price, price_note, work, work_note
