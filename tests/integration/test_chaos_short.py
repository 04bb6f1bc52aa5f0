"""The short fault-injection run: each kind of fault once on a small generated corpus.

While the corpus flows, the processor worker and the sink are killed with SIGKILL and
restarted, the broker is restarted on its data directory, the Odoo stand-in is killed
and kept down, then answers 503 and 429 for a while. After the pipeline drains, the
generator's expected.json is the oracle: no business record lost, no Odoo record
duplicated, every poison input dead-lettered with its reason, the end state equal.

Its own broker (the session broker cannot be restarted under other tests), fixed seeds,
and drain and recovery timeouts far above what a busy two-core machine needs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.scenarios import SCENARIOS, FaultPlan, run_scenario
from loadgen.corpus_writer import generate_corpus
from loadgen.parameters import GenerationParameters

pytestmark = pytest.mark.integration

SEED = 20261204


@pytest.mark.timeout(1500)
def test_every_fault_once_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    generate_corpus(GenerationParameters(events=800, seed=SEED, bad_rate=0.02), corpus)
    plan = FaultPlan(
        kills=2,
        kill_gap_seconds=(1.0, 3.0),
        odoo_down_seconds=10.0,
        odoo_error_seconds=6.0,
        recovery_timeout_seconds=400.0,
        drain_timeout_seconds=900.0,
        seed=SEED,
    )

    result = run_scenario(SCENARIOS["everything"], corpus, tmp_path / "run", plan)
    verdict = result.verdict

    # The faults really happened, in this order.
    assert [fault.split()[0] for fault in result.injected] == [
        "kill",
        "kill",
        "broker",
        "odoo",
        "odoo",
    ], result.injected
    assert result.unrecovered == 0, result.as_json()

    # The oracle.
    assert verdict.lost == 0, verdict.differences[:20]
    assert verdict.duplicated == 0, verdict.duplicate_keys
    assert verdict.poison_expected > 0, "the corpus carries no poison input"
    assert verdict.poison_missing == 0, verdict.differences[:20]
    assert verdict.dead_lettered == verdict.poison_expected
    assert verdict.differences == [], [str(d) for d in verdict.differences[:20]]
