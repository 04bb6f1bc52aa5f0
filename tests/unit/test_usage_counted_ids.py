"""Usage windows remember counted message ids in bounded pieces, and refuse totals that
the enriched record cannot carry."""

from __future__ import annotations

import json
from typing import Any

import pytest

from processors.exceptions import UsageOverflow
from processors.usage import MAX_TOTAL, UsageAggregates, UsageTotals

DAY_MICROS = 86_400 * 1_000_000
# 2026-12-04T12:00:00Z
NOON = 1_796_385_600 * 1_000_000


def _count(
    usage: UsageAggregates, message_id: str, quantity: int = 1, at: int = NOON
) -> UsageTotals:
    result = usage.count("ws-1", "api_call", at, message_id, quantity)
    assert isinstance(result, UsageTotals)
    return result


def test_a_busy_day_spreads_its_ids_over_small_values() -> None:
    store: dict[str, Any] = {}
    usage = UsageAggregates(store, grace_days=1)
    calls = 5_000
    for number in range(calls):
        _count(usage, f"msg-{number:06d}")

    counted = {k: v for k, v in store.items() if k.startswith("counted:")}
    largest = max(len(json.dumps(v)) for v in counted.values())
    assert sum(len(v) for v in counted.values()) == calls
    # One list of 5,000 ids would be ~70 kB; no single value is a tenth of that.
    assert largest < len(json.dumps([f"msg-{n:06d}" for n in range(calls)])) / 10
    assert store["totals:ws-1/2026-12-04/api_call"]["count"] == calls


def test_every_counted_id_is_recognised_when_it_comes_again() -> None:
    store: dict[str, Any] = {}
    usage = UsageAggregates(store, grace_days=1)
    for number in range(500):
        _count(usage, f"msg-{number}", quantity=2)

    again = [_count(usage, f"msg-{number}", quantity=2) for number in range(500)]

    assert all(result.replayed for result in again)
    assert again[-1].count == 500
    assert again[-1].quantity == 1000


def test_ids_counted_before_buckets_existed_are_still_recognised() -> None:
    store: dict[str, Any] = {
        "totals:ws-1/2026-12-04/api_call": {"count": 1, "quantity": 5, "version": 1},
        "counted:ws-1/2026-12-04/api_call": ["legacy-1"],
        "open:ws-1": [["ws-1/2026-12-04/api_call", "2026-12-04"]],
    }
    usage = UsageAggregates(store, grace_days=1)

    assert _count(usage, "legacy-1", quantity=5).replayed
    assert _count(usage, "new-1", quantity=5).quantity == 10


def test_a_closed_window_leaves_no_counted_ids_behind() -> None:
    store: dict[str, Any] = {
        "counted:ws-1/2026-12-04/api_call": ["legacy-1"],
    }
    usage = UsageAggregates(store, grace_days=1)
    for number in range(300):
        _count(usage, f"msg-{number}")

    _count(usage, "three-days-later", at=NOON + 3 * DAY_MICROS)

    assert not [k for k in store if k.startswith("counted:ws-1/2026-12-04/")]
    assert "counted:ws-1/2026-12-04/api_call" not in store
    assert "totals:ws-1/2026-12-04/api_call" not in store


def test_a_call_that_would_overflow_the_total_is_refused_and_changes_nothing() -> None:
    store: dict[str, Any] = {}
    usage = UsageAggregates(store, grace_days=1)
    _count(usage, "big", quantity=MAX_TOTAL - 1)
    before = json.dumps(store, sort_keys=True)

    with pytest.raises(UsageOverflow, match="ws-1/2026-12-04/api_call"):
        _count(usage, "one-too-many", quantity=2)

    assert json.dumps(store, sort_keys=True) == before
    assert _count(usage, "exactly-at-the-limit", quantity=1).quantity == MAX_TOTAL
