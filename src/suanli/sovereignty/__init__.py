"""Licence and sovereignty register: dated, sourced findings scored per accelerator and mode.

See :mod:`suanli.sovereignty.register` for the register and its scoring rule, and
:mod:`suanli.sovereignty.assess` for a scenario's candidates scored beside cost and performance.
"""

from suanli.sovereignty.assess import (
    CandidateSovereignty,
    CriterionView,
    Override,
    SovereigntyReport,
    scenario_overrides,
    scores_for,
    sovereignty_report,
)
from suanli.sovereignty.register import (
    CRITERIA,
    MODES,
    PENALTY,
    SCORING_RULE,
    Criterion,
    DerivedScore,
    Mode,
    Register,
    RegisterItem,
    builtin_register,
    derived_scores,
    load_register,
    register_as_of,
)

__all__ = [
    "CRITERIA",
    "CandidateSovereignty",
    "Criterion",
    "CriterionView",
    "DerivedScore",
    "MODES",
    "Mode",
    "Override",
    "PENALTY",
    "Register",
    "RegisterItem",
    "SCORING_RULE",
    "SovereigntyReport",
    "builtin_register",
    "derived_scores",
    "load_register",
    "register_as_of",
    "scenario_overrides",
    "scores_for",
    "sovereignty_report",
]
