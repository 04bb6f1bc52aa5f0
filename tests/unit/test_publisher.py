"""EventPublisher against an in-memory producer: topics, keys, trace context, and that
unacknowledged records are reported, never silently counted as published."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from eventbus import AvroCodec
from pipeline.settings import Settings
from producers.exceptions import PublishError
from producers.publisher import EventPublisher

MOMENT = datetime(2024, 10, 1, tzinfo=UTC)


class _Message:
    def __init__(self, topic: str, partition: int, offset: int) -> None:
        self._topic, self._partition, self._offset = topic, partition, offset

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset


class _Error:
    def str(self) -> str:
        return "Broker: Not enough in-sync replicas"


class RecordingProducer:
    """Holds produced records; delivery reports are served on poll/flush, as in
    librdkafka. ``refuse`` makes every delivery fail, ``silent`` never reports."""

    def __init__(self, refuse: bool = False, silent: bool = False) -> None:
        self.records: list[dict[str, Any]] = []
        self._pending: list[tuple[Any, str, int]] = []
        self.refuse, self.silent = refuse, silent

    def produce(self, topic, value, key, headers, on_delivery) -> None:
        self.records.append(
            {"topic": topic, "value": value, "key": key, "headers": headers}
        )
        self._pending.append((on_delivery, topic, len(self.records) - 1))

    def poll(self, timeout: float = 0) -> int:
        if self.silent:
            return 0
        served, self._pending = self._pending, []
        for callback, topic, offset in served:
            error = _Error() if self.refuse else None
            callback(error, _Message(topic, 0, offset))
        return len(served)

    def flush(self, timeout: float = 0) -> int:
        self.poll()
        return len(self._pending)


def _event() -> dict[str, Any]:
    node = {"kind": "billing_customer", "id": "cus_1"}
    return {
        "event_id": "evt_1",
        "event_type": "customer.created",
        "source_system": "billing",
        "source_object_id": "cus_1",
        "occurred_at": MOMENT,
        "received_at": MOMENT,
        "account_key": "cus_1",
        "identity": {"subject": node, "anchor": node},
        "trace_context": {},
        "delivery": None,
        "payload": ("pipeline.BillingCustomer", {"customer_id": "cus_1"}),
    }


def _publisher(producer: RecordingProducer) -> EventPublisher:
    settings = Settings(kafka={"topic_prefix": "p."})
    return EventPublisher(settings, producer=producer, tracer_provider=TracerProvider())


def test_event_goes_to_its_source_topic_with_trace_context() -> None:
    producer = RecordingProducer()
    publisher = _publisher(producer)

    publisher.publish_event("billing", "cus_1", _event())
    counts = publisher.flush()

    assert counts.acknowledged == 1 and counts.failed == 0
    [record] = producer.records
    assert record["topic"] == "p.source.billing"
    assert record["key"] == b"cus_1"
    headers = dict(record["headers"])
    decoded = AvroCodec().decode("BusinessEvent", record["value"])
    assert decoded["trace_context"]["traceparent"] == headers["traceparent"].decode()
    assert headers["traceparent"].decode().startswith("00-")


def test_parent_trace_is_continued() -> None:
    producer = RecordingProducer()
    publisher = _publisher(producer)
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    parent = TraceContextTextMapPropagator().extract(
        {"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
    )

    publisher.publish_event("billing", "cus_1", _event(), parent_context=parent)

    traceparent = dict(producer.records[0]["headers"])["traceparent"].decode()
    assert traceparent.split("-")[1] == trace_id


def test_rejection_goes_to_the_dead_letter_topic_keyed_by_source() -> None:
    producer = RecordingProducer()
    publisher = _publisher(producer)
    record = {
        "source_system": "product",
        "source_name": "product/segment_events.jsonl",
        "position": 44,
        "reason": "missing_type",
        "detail": "no event type",
        "event_id": None,
        "received_at": MOMENT,
        "raw": b"{}",
        "raw_truncated": False,
    }

    publisher.publish_rejection(record)
    publisher.flush()

    assert producer.records[0]["topic"] == "p.deadletter.ingest"
    assert producer.records[0]["key"] == b"product/segment_events.jsonl"


def test_refused_delivery_raises_on_flush() -> None:
    publisher = _publisher(RecordingProducer(refuse=True))
    publisher.publish_event("billing", "cus_1", _event())
    with pytest.raises(PublishError, match="1 of 1 records not acknowledged"):
        publisher.flush()


def test_missing_acknowledgement_raises_on_flush() -> None:
    publisher = _publisher(RecordingProducer(silent=True))
    publisher.publish_event("billing", "cus_1", _event())
    with pytest.raises(PublishError, match="no acknowledgement"):
        publisher.flush(timeout=0.01)


def test_waiting_for_one_record() -> None:
    good = _publisher(RecordingProducer())
    ticket = good.publish_event("billing", "cus_1", _event())
    asyncio.run(good.acknowledged(ticket, timeout=1))
    assert ticket.acknowledged and ticket.offset == 0

    silent = _publisher(RecordingProducer(silent=True))
    ticket = silent.publish_event("billing", "cus_1", _event())
    with pytest.raises(PublishError):
        asyncio.run(silent.acknowledged(ticket, timeout=0.05))
    with pytest.raises(PublishError):
        silent.wait_acknowledged(ticket, timeout=0.05)


class OffsetlessFirstReportProducer(RecordingProducer):
    """Reports the first record delivered without an offset, as a broker answer to a
    retried batch it judged a duplicate does."""

    def poll(self, timeout: float = 0) -> int:
        served, self._pending = self._pending, []
        for callback, topic, offset in served:
            callback(None, _Message(topic, 0, None if offset == 0 else offset))
        return len(served)


def test_an_acknowledgement_without_offset_is_published_again_to_be_verified(
    monkeypatch,
) -> None:
    import producers.publisher as publisher_module

    checked: list[list] = []

    def verify(kafka, published, publish_again) -> int:
        checked.append(published)
        return 0

    monkeypatch.setattr(publisher_module, "publish_until_verified", verify)
    producer = OffsetlessFirstReportProducer()
    publisher = EventPublisher(Settings(), producer=producer)

    publisher.publish_event("billing", "cus_1", _event())
    counts, _ = publisher.flush_verified()

    assert counts.acknowledged == 1
    assert len(producer.records) == 2  # the offset-less record went out again
    assert [(r.offset, r.value) for r in checked[0]] == [
        (1, producer.records[0]["value"])
    ]
