"""A call stamped far ahead of its receipt cannot close its workspace's open days."""

from __future__ import annotations

from typing import Any

from processors.usage import BeyondGrace, UsageAggregates, UsageTotals

DAY = 86_400 * 1_000_000
# 2026-12-04T12:00:00Z
NOON = 1_796_385_600 * 1_000_000


def _count(
    usage: UsageAggregates, message_id: str, at: int, received_at: int
) -> UsageTotals | BeyondGrace:
    return usage.count("ws-1", "api_call", at, message_id, 1, received_at=received_at)


def test_a_call_from_a_clock_years_ahead_leaves_the_open_days_open() -> None:
    store: dict[str, Any] = {}
    usage = UsageAggregates(store, grace_days=1)
    assert isinstance(_count(usage, "today", NOON, received_at=NOON), UsageTotals)

    wrong_clock = _count(usage, "from-2099", NOON + 73 * 365 * DAY, received_at=NOON)
    later = _count(usage, "an-hour-later", NOON + 3_600_000_000, received_at=NOON)

    assert isinstance(wrong_clock, UsageTotals)
    assert isinstance(later, UsageTotals)
    assert later.count == 2
    assert store["clock:ws-1"] <= NOON + DAY


def test_calls_within_a_day_of_their_receipt_move_the_clock_as_before() -> None:
    store: dict[str, Any] = {}
    usage = UsageAggregates(store, grace_days=1)
    _count(usage, "day-1", NOON, received_at=NOON)
    _count(usage, "day-4", NOON + 3 * DAY, received_at=NOON + 3 * DAY)

    late = _count(usage, "late-for-day-1", NOON + 1, received_at=NOON + 3 * DAY)

    assert isinstance(late, BeyondGrace)
    assert "ws-1/2026-12-04/api_call" in late.record_id
