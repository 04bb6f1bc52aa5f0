"""Event-time ordering through the correlate stage, over random valid histories.

For any delivery of a history in which every event arrives less than the reorder hold
after any event newer than it, with redeliveries mixed in, deduplicating and running
the correlate stage (reorder buffer, correlator, committed state) must publish, per
account key, exactly the enriched records that the ordered, deduplicated history
publishes: same records, same order, same canonical ids.
"""

from __future__ import annotations

import importlib.util
import json
import random
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from eventbus import AvroCodec
from pipeline.settings import Settings
from processors.correlate import ENRICHED
from processors.correlate_agent import CorrelateStep
from processors.correlate_state import CorrelateState
from processors.dedup import DedupLedger, Duplicate
from tests.support.correlate_input import CORRELATE_TOPICS, ConsumedRecord, tick

HOLD_SECONDS = 2.0
HOLD = int(HOLD_SECONDS * 1_000_000)
STEP = 10_000


def _histories() -> Any:
    """The order-independence properties' module (its ``build_history`` and
    ``accounts_by_content``), loaded by path (test directories are not packages)."""
    path = Path(__file__).with_name("test_processing_properties.py")
    spec = importlib.util.spec_from_file_location("processing_histories", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Dataclasses look their module up while the module runs.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


histories = _histories()
build_history = histories.build_history
codec = AvroCodec()


def publish(deliveries: list[tuple[int, dict[str, Any]]]) -> list[tuple[str, Any]]:
    """Dedup and correlate ``(arrival micros, event)`` deliveries; the enriched records
    with their Kafka keys, in publishing order, without their trace context."""
    stage_settings = Settings(
        processors={
            "reorder_hold_seconds": HOLD_SECONDS,
            "reorder_dependency_wait_seconds": 10 * HOLD_SECONDS,
        }
    )
    state = CorrelateState({})
    step = CorrelateStep(state, stage_settings, codec, CORRELATE_TOPICS)
    ledger = DedupLedger({})
    published: list[tuple[str, Any]] = []
    records = []
    for arrival, event in deliveries:
        if isinstance(ledger.check(event), Duplicate):
            continue
        value = codec.encode("BusinessEvent", event)
        records.append(ConsumedRecord(len(records), value, arrival / 1_000_000))
    clock = arrival
    for _ in range(10_000):
        for record in records:
            outputs = step.run(record)
            state.commit(record.offset, outputs)
            for role, key, value, _headers in outputs:
                if role == ENRICHED:
                    enriched = codec.decode("EnrichedEvent", value)
                    enriched.pop("trace_context")
                    published.append((key, enriched))
        if not step.buffer.depth:
            return published
        clock += HOLD
        records = [tick(len(records), clock)]
    raise AssertionError("ticks never ended the holds")


def ordered(history: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    return [(index * STEP, event) for index, event in enumerate(history)]


def disordered(
    history: list[dict[str, Any]], rng: random.Random, redeliveries: int
) -> list[tuple[int, dict[str, Any]]]:
    """Each event delayed by less than the hold; some delivered again, later."""
    deliveries = [
        (index * STEP + rng.randrange(HOLD - STEP), event)
        for index, event in enumerate(history)
    ]
    for _ in range(redeliveries):
        arrival, event = rng.choice(deliveries)
        again = {
            **event,
            "delivery": {
                **event["delivery"],
                "position": event["delivery"]["position"],
            },
            "received_at": event["received_at"] + 1,
        }
        deliveries.append((arrival + rng.randrange(3 * HOLD), again))
    return sorted(deliveries, key=lambda delivery: delivery[0])


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=10_000),
    accounts=st.integers(min_value=1, max_value=3),
    redeliveries=st.integers(min_value=0, max_value=8),
)
def test_any_delivery_within_the_hold_publishes_the_ordered_history(
    seed: int, accounts: int, redeliveries: int
) -> None:
    history = build_history(seed, accounts)

    expected = by_key(publish(ordered(history)))
    actual = by_key(publish(disordered(history, random.Random(seed), redeliveries)))

    assert actual == expected


def test_a_delivery_beyond_the_hold_is_not_reordered_but_reaches_the_same_state() -> (
    None
):
    # An event delivered far too late is applied under the late policy: the records
    # published differ (a provisional account, a merge), yet the sink's fold of them
    # describes the same accounts as the ordered history.
    history = build_history(7, 2)
    deliveries = ordered(history)
    for position in (3, 9):
        late_arrival, late_event = deliveries.pop(position)
        deliveries.append((late_arrival + 100 * HOLD, late_event))

    published = publish(deliveries)

    expected = publish(ordered(history))
    assert by_key(published) != by_key(expected)
    assert accounts_by_content(published) == accounts_by_content(expected)


def by_key(published: list[tuple[str, Any]]) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = defaultdict(list)
    for key, record in published:
        grouped[key].append(record)
    return dict(grouped)


def accounts_by_content(published: list[tuple[str, Any]]) -> list[str]:
    # Decoded records carry datetimes where the core's carry microseconds; either
    # way the fold compares them as text.
    records = [json.loads(json.dumps(r, default=str)) for _key, r in published]
    return histories.accounts_by_content(records)
