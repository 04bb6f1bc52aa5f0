"""Fault injection against a running pipeline, judged by a corpus's expected.json.

``python -m chaos`` generates a corpus (or takes one), starts a fresh stack per scenario
(local Kafka, the Odoo stand-in, the processor worker and the sink as processes), ingests
the corpus while the scenario's faults happen, waits for the pipeline to drain and checks
the end state against the oracle. ``docs/chaos.md`` explains the scenarios and the table.
"""

from chaos.exceptions import ChaosError, StackError
from chaos.scenarios import SCENARIOS, Scenario, run_scenario
from chaos.verdict import ScenarioVerdict

__all__ = [
    "SCENARIOS",
    "ChaosError",
    "Scenario",
    "ScenarioVerdict",
    "StackError",
    "run_scenario",
]
