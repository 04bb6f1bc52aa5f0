"""A measurement's final check of Odoo never costs the measurement."""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks import oracle_check
from chaos.verdict import ScenarioVerdict
from pipeline.settings import Settings


def _verdict(**overrides: Any) -> ScenarioVerdict:
    fields: dict[str, Any] = {
        "expected_records": 10,
        "lost": 0,
        "duplicated": 0,
        "dead_lettered": 2,
        "poison_expected": 2,
        "poison_missing": 0,
        "differences": [],
        "duplicate_keys": {},
    }
    return ScenarioVerdict(**{**fields, **overrides})


def test_a_check_that_raises_becomes_its_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refused(settings: Settings, expected: Any) -> ScenarioVerdict:
        raise RuntimeError("too many SQL variables")

    monkeypatch.setattr(oracle_check.oracle, "judge", refused)

    judgement = oracle_check.judge_or_reason(Settings(), {})

    assert judgement == "RuntimeError: too many SQL variables"
    assert not oracle_check.passed(judgement)
    assert oracle_check.end_state_sentence(judgement) == (
        "Odoo end state not judged (RuntimeError: too many SQL variables)."
    )


def test_a_verdict_is_told_with_its_counts() -> None:
    equal = _verdict()
    lossy = _verdict(lost=3, differences=["a", "b"])

    assert oracle_check.passed(equal)
    assert oracle_check.end_state_sentence(equal) == (
        "Odoo end state equal to the oracle: 0 lost, 0 duplicated, 2/2 poison inputs "
        "dead-lettered."
    )
    assert not oracle_check.passed(lossy)
    assert "2 differences from the oracle: 3 lost" in oracle_check.end_state_sentence(
        lossy
    )
