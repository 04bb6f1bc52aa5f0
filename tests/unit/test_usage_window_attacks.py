"""Usage windows against hostile calls: huge message ids aimed at one bucket, ids that
share a bucket, negative quantities, replays after a window closed, and a total that
overflows inside the correlate stage (the event is skipped, the stage goes on)."""

from __future__ import annotations

import json
import zlib
from typing import Any

import pytest

from processors.correlate import ENRICHED
from processors.correlate_state import CorrelateState
from processors.exceptions import UsageOverflow
from processors.usage import (
    COUNTED_BUCKETS,
    MAX_TOTAL,
    BeyondGrace,
    UsageAggregates,
    UsageTotals,
)
from tests.support.correlate_input import tick
from tests.unit.test_reorder_attacks import (
    ARRIVAL,
    HOLD,
    codec,
    overflowing_usage_records,
    stage,
)

DAY_MICROS = 86_400 * 1_000_000
# 2026-12-04T12:00:00Z
NOON = 1_796_385_600 * 1_000_000
KEY = "ws-1/2026-12-04/api_call"
# A Kafka record's default size limit: no table value may come near it.
KAFKA_RECORD_BYTES = 1_000_000


def _count(
    usage: UsageAggregates, message_id: str, quantity: int = 1, at: int = NOON
) -> UsageTotals:
    result = usage.count("ws-1", "api_call", at, message_id, quantity)
    assert isinstance(result, UsageTotals)
    return result


def _ids_in_one_bucket(count: int, size: int) -> list[str]:
    """``count`` distinct ids of ``size`` characters whose checksums share a bucket."""
    body = "m" * (size - 8)
    found: list[str] = []
    suffix = 0
    while len(found) < count:
        candidate = f"{body}{suffix:08d}"
        if zlib.crc32(candidate.encode()) % COUNTED_BUCKETS == 0:
            found.append(candidate)
        suffix += 1
    return found


def test_huge_ids_aimed_at_one_bucket_keep_every_value_below_a_kafka_record() -> None:
    store: dict[str, Any] = {}
    usage = UsageAggregates(store, grace_days=1)
    ids = _ids_in_one_bucket(24, 60_000)

    for message_id in ids:
        _count(usage, message_id)

    largest = max(len(json.dumps(value)) for value in store.values())
    assert largest < KAFKA_RECORD_BYTES / 10
    assert all(_count(usage, message_id).replayed for message_id in ids)
    assert store[f"totals:{KEY}"]["count"] == len(ids)


def test_huge_ids_counted_before_are_still_recognised() -> None:
    # Buckets written by a version that stored every id as it came.
    [long_id] = _ids_in_one_bucket(1, 5_000)
    store: dict[str, Any] = {
        f"totals:{KEY}": {"count": 1, "quantity": 3, "version": 1},
        f"counted:{KEY}/0": [long_id],
        "open:ws-1": [[KEY, "2026-12-04"]],
        "clock:ws-1": NOON,
    }
    usage = UsageAggregates(store, grace_days=1)

    assert _count(usage, long_id, quantity=3).replayed
    assert _count(usage, "other", quantity=3).quantity == 6


def test_ids_sharing_a_bucket_are_each_counted_once() -> None:
    store: dict[str, Any] = {}
    usage = UsageAggregates(store, grace_days=1)
    ids = _ids_in_one_bucket(50, 20)

    totals = [_count(usage, message_id, quantity=2) for message_id in ids]
    again = [_count(usage, message_id, quantity=2) for message_id in reversed(ids)]

    assert [t.count for t in totals] == list(range(1, 51))
    assert all(t.replayed for t in again)
    assert again[-1].quantity == 100


def test_negative_quantities_are_bounded_like_positive_ones() -> None:
    store: dict[str, Any] = {}
    usage = UsageAggregates(store, grace_days=1)
    _count(usage, "low", quantity=-MAX_TOTAL)

    assert _count(usage, "to-the-floor", quantity=-1).quantity == -MAX_TOTAL - 1
    with pytest.raises(UsageOverflow):
        _count(usage, "below-the-floor", quantity=-1)


def test_a_replay_after_its_window_closed_does_not_reopen_it() -> None:
    store: dict[str, Any] = {}
    usage = UsageAggregates(store, grace_days=1)
    _count(usage, "m-1", quantity=4)
    _count(usage, "later", at=NOON + 3 * DAY_MICROS)

    again = usage.count("ws-1", "api_call", NOON, "m-1", 4)

    assert isinstance(again, BeyondGrace)
    assert f"totals:{KEY}" not in store
    assert not [k for k in store if k.startswith(f"counted:{KEY}")]


def test_an_overflowing_call_in_the_stage_is_skipped_and_the_next_event_goes_on() -> (
    None
):
    table: dict[str, Any] = {}
    step = stage(CorrelateState(table))
    published = []
    # A last tick releases the event that follows the overflowing call.
    records = [*overflowing_usage_records(), tick(4, ARRIVAL + 3 * HOLD)]
    for record in records:
        outputs = step.run(record)
        step.state.commit(record.offset, outputs)
        published += outputs

    enriched = [
        codec.decode("EnrichedEvent", value)
        for role, _key, value, _headers in published
        if role == ENRICHED
    ]
    kinds = [record["record_kind"] for record in enriched]
    assert kinds.count("usage_daily") == 1
    assert "contact" in kinds
    [totals] = [v for k, v in table.items() if k.startswith("usage/totals:ws_att/")]
    assert totals == {"count": 1, "quantity": 2**62, "version": 1}
