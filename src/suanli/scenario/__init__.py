"""Scenario files: one YAML document per decision, validated at the edge."""

from suanli.scenario.load import DEFAULT_SCENARIO, builtin_scenarios, load_scenario
from suanli.scenario.model import Scenario, Source

__all__ = [
    "DEFAULT_SCENARIO",
    "Scenario",
    "Source",
    "builtin_scenarios",
    "load_scenario",
]
