"""End-to-end latency, from the adapter's publish call to Odoo's acknowledgement.

Events are published at a steady rate with the wall-clock time of each publish call
noted by event id. The sink records one span per enriched record (``process
enriched.accounts``) carrying the source ``event.id`` and ending when Odoo answered the
write of the batch holding it; the latency of an event is the end of the first such
span with outcome ``written`` minus its publish time. Both clocks are this machine's.
Events that lead to no Odoo write (redeliveries, versions already superseded) have no
such span and are counted apart.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pipeline.settings import Settings
from producers.outcomes import AcceptedEvent
from producers.publisher import EventPublisher

# The exporter writes spans in batches a few seconds apart.
SPANS_SETTLE_SECONDS = 12.0


@dataclass(frozen=True)
class LatencySummary:
    published: int
    matched: int
    p50: float
    p95: float
    p99: float
    max: float


def publish_steadily(
    events: Iterable[AcceptedEvent], settings: Settings, per_second: float
) -> dict[str, float]:
    """Publish at ``per_second``; returns event id -> wall time of the publish call."""
    publisher = EventPublisher(settings)
    published: dict[str, float] = {}
    began = time.monotonic()
    try:
        for index, event in enumerate(events):
            due = began + index / per_second
            pause = due - time.monotonic()
            if pause > 0:
                publisher.poll(pause)
            published.setdefault(str(event.event["event_id"]), time.time())
            publisher.publish_event(event.source_system, event.key, event.event)
            publisher.poll(0)
        publisher.flush()
    finally:
        publisher.close()
    return published


def sink_span_name(enriched_topic: str) -> str:
    return f"process {enriched_topic}"


def settled_write_times(
    spans_file: Path, span_name: str, timeout: float = 120.0
) -> dict[str, float]:
    """``sink_write_times`` once the spans file has stopped growing."""
    deadline = time.monotonic() + timeout
    size, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        current = spans_file.stat().st_size if spans_file.is_file() else 0
        if current != size:
            size, since = current, time.monotonic()
        elif time.monotonic() - since >= SPANS_SETTLE_SECONDS:
            break
        time.sleep(1.0)
    return sink_write_times(spans_file, span_name)


def sink_write_times(spans_file: Path, span_name: str) -> dict[str, float]:
    """Event id -> end of the first sink span that wrote a record of that event."""
    written: dict[str, float] = {}
    with spans_file.open() as spans:
        for line in spans:
            if span_name not in line:
                continue
            span = json.loads(line)
            attributes = span.get("attributes", {})
            if span.get("name") != span_name or attributes.get("outcome") != "written":
                continue
            ended = datetime.fromisoformat(span["end_time"]).timestamp()
            event_id = str(attributes.get("event.id"))
            written[event_id] = min(ended, written.get(event_id, ended))
    return written


def summarise(published: dict[str, float], written: dict[str, float]) -> LatencySummary:
    latencies = sorted(
        written[event_id] - at
        for event_id, at in published.items()
        if event_id in written
    )
    if not latencies:
        raise RuntimeError("no published event reached Odoo: no latency to report")

    def percentile(share: float) -> float:
        return latencies[min(len(latencies) - 1, int(share * len(latencies)))]

    return LatencySummary(
        published=len(published),
        matched=len(latencies),
        p50=percentile(0.50),
        p95=percentile(0.95),
        p99=percentile(0.99),
        max=latencies[-1],
    )
