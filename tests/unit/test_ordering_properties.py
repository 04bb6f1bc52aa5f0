"""Event-time ordering through the correlate stage, over random valid histories.

For any delivery of a history in which every event arrives less than the reorder hold
after any event newer than it, with redeliveries mixed in, deduplicating and running
the correlate stage (reorder buffer, correlator, committed state) must publish, per
account key, exactly the enriched records that the ordered, deduplicated history
publishes: same records, same order, same canonical ids.
"""

from __future__ import annotations

import importlib.util
import random
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from eventbus import AvroCodec
from pipeline.settings import Settings
from processors.correlate import ENRICHED
from processors.correlate_agent import TICK_HEADER, CorrelateStep
from processors.correlate_state import CorrelateState
from processors.dedup import DedupLedger, Duplicate

HOLD_SECONDS = 2.0
HOLD = int(HOLD_SECONDS * 1_000_000)
STEP = 10_000
TOPICS = {"input": "processing.deduplicated", "enriched": "enriched.accounts"}


def _histories() -> Any:
    """``build_history`` of the order-independence properties, loaded by path (test
    directories are not packages)."""
    path = Path(__file__).with_name("test_processing_properties.py")
    spec = importlib.util.spec_from_file_location("processing_histories", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Dataclasses look their module up while the module runs.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.build_history


build_history = _histories()
codec = AvroCodec()


@dataclass
class Record:
    """The fields of a consumed Faust message the stage reads."""

    offset: int
    value: bytes
    timestamp: float
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    topic: str = TOPICS["input"]
    partition: int = 0
    key: bytes = b"k"


def publish(deliveries: list[tuple[int, dict[str, Any]]]) -> dict[str, list[Any]]:
    """Dedup and correlate ``(arrival micros, event)`` deliveries; enriched records
    per Kafka key, in publishing order, without their trace context."""
    stage_settings = Settings(
        processors={
            "reorder_hold_seconds": HOLD_SECONDS,
            "reorder_dependency_wait_seconds": 10 * HOLD_SECONDS,
        }
    )
    state = CorrelateState({})
    step = CorrelateStep(state, stage_settings, codec, TOPICS)
    ledger = DedupLedger({})
    published: dict[str, list[Any]] = defaultdict(list)
    records = []
    for arrival, event in deliveries:
        if isinstance(ledger.check(event), Duplicate):
            continue
        value = codec.encode("BusinessEvent", event)
        records.append(Record(len(records), value, arrival / 1_000_000))
    clock = arrival
    while True:
        for record in records:
            outputs = step.run(record)
            state.commit(record.offset, outputs)
            for role, key, value, _headers in outputs:
                if role == ENRICHED:
                    enriched = codec.decode("EnrichedEvent", value)
                    enriched.pop("trace_context")
                    published[key].append(enriched)
        if not step.buffer.depth:
            return published
        clock += HOLD
        tick = Record(len(records), b"", clock / 1_000_000, [(TICK_HEADER, b"1")])
        records = [tick]


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

    expected = publish(ordered(history))
    actual = publish(disordered(history, random.Random(seed), redeliveries))

    assert actual == expected


def test_a_delivery_beyond_the_hold_is_not_reordered_but_nothing_is_lost() -> None:
    # The same history with one event delivered far too late: the output differs in
    # order, yet every record version the ordered run published at the end is there.
    history = build_history(7, 2)
    deliveries = ordered(history)
    late_arrival, late_event = deliveries.pop(3)
    deliveries.append((late_arrival + 100 * HOLD, late_event))

    published = publish(deliveries)

    expected = publish(ordered(history))
    for key, records in expected.items():
        final = {(r["record_kind"], r["record_id"]): r for r in records}
        got = {(r["record_kind"], r["record_id"]): r for r in published.get(key, [])}
        for identity, record in final.items():
            if record["record_kind"] != "account_profile":
                assert got[identity]["payload"] == record["payload"], identity
