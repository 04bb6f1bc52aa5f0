"""The oracle's verdict at the end of a long measurement, without risking the samples.

A million-event run samples memory for hours; the check of Odoo against
``expected.json`` comes last. If that check fails (the stand-in refuses a query, Odoo
is gone), the run's samples are still reported, with the reason the end state was not
judged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from chaos import verdict as oracle
from chaos.verdict import ScenarioVerdict
from pipeline.settings import Settings

logger = logging.getLogger(__name__)

Judgement = ScenarioVerdict | str


def judge_or_reason(settings: Settings, expected: Mapping[str, Any]) -> Judgement:
    """The verdict, or why there is none."""
    try:
        return oracle.judge(settings, expected)
    except Exception as exc:  # noqa: BLE001 - the samples are worth more than this
        logger.exception("the end state could not be judged")
        return f"{type(exc).__name__}: {exc}"


def passed(judgement: Judgement) -> bool:
    return not isinstance(judgement, str) and judgement.passed


def end_state_sentence(judgement: Judgement) -> str:
    if isinstance(judgement, str):
        return f"Odoo end state not judged ({judgement})."
    state = (
        "equal to the oracle"
        if not judgement.differences
        else f"{len(judgement.differences)} differences from the oracle"
    )
    return (
        f"Odoo end state {state}: {judgement.lost} lost, {judgement.duplicated} "
        f"duplicated, {judgement.dead_lettered}/{judgement.poison_expected} poison "
        "inputs dead-lettered."
    )
