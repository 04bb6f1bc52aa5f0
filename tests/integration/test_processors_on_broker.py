"""The Faust worker on the real broker: redeliveries dropped with a notice, business
records re-keyed by canonical account id."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer
from processor_worker import (
    WAIT_SECONDS,
    read_settled,
    running_worker,
    worker_environment,
)

from eventbus import AvroCodec, Topics
from eventbus.kafka_config import consumer_config, producer_config
from eventbus.topic_admin import ensure_topics
from pipeline.settings import Settings
from pipeline.topic_reader import read_all
from producers.ingest import ingest_corpus
from tests.support.business_events import business_event, invoice_payload, node
from tests.support.corpus_oracle import corpus_oracle

pytestmark = pytest.mark.integration

SECOND = 1_000_000
T0 = 1_727_000_000 * SECOND


def delivered_event(
    event_id: str,
    event_type: str,
    source_system: str,
    occurred_at: int,
    subject: dict[str, str],
    payload: tuple[str, dict[str, Any]],
    line: int,
    links: list[dict[str, str]] | None = None,
    domains: list[str] | None = None,
) -> dict[str, Any]:
    """An event as the file producer publishes it: read from line ``line`` of its
    source's events file, inside a fresh trace."""
    return business_event(
        event_id,
        event_type,
        occurred_at,
        payload,
        subject,
        source_system=source_system,
        links=links,
        domains=domains,
        received_at=T0 + line,
        trace_context={
            "traceparent": f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"
        },
        delivery={
            "channel": "file",
            "source_name": f"{source_system}/events.jsonl",
            "position": line,
        },
    )


def small_history() -> list[dict[str, Any]]:
    company = delivered_event(
        "crm_company:900:2024-09-01T00:00:00",
        "crm.company",
        "crm",
        T0,
        node("crm_company", "900"),
        (
            "pipeline.CrmCompany",
            {
                "record_id": "900",
                "name": "Acme Test GmbH",
                "domain": "acme-test.example",
                "country_code": "DE",
                "vat_number": None,
                "created_at": T0,
                "modified_at": T0,
            },
        ),
        line=1,
        domains=["acme-test.example"],
    )
    customer = delivered_event(
        "evt_customer",
        "customer.created",
        "billing",
        T0 + SECOND,
        node("billing_customer", "cus_900"),
        (
            "pipeline.BillingCustomer",
            {
                "customer_id": "cus_900",
                "name": "Acme Test",
                "email": "ap@acme-test.example",
                "crm_company_id": "900",
                "deleted": False,
            },
        ),
        line=1,
        links=[node("crm_company", "900")],
    )
    invoice = invoice_payload(
        "in_900", "cus_900", number="ACME-1", status="paid", paid=1000
    )
    paid = [
        delivered_event(
            "evt_paid",
            "invoice.paid",
            "billing",
            T0 + 2 * SECOND,
            node("billing_customer", "cus_900"),
            ("pipeline.Invoice", invoice),
            line=line,
        )
        for line in (2, 3)
    ]
    return [company, customer, *paid]


def publish(
    settings: Settings, events: list[dict[str, Any]], garbage: bytes | None = None
) -> None:
    codec = AvroCodec()
    topics = Topics(settings.kafka.topic_prefix)
    producer = Producer(producer_config(settings.kafka, "processors-test"))
    if garbage is not None:
        producer.produce(topics.billing, key=b"cus_900", value=garbage)
    for event in events:
        producer.produce(
            topics.source_topic(event["source_system"]),
            key=event["account_key"].encode(),
            value=codec.encode("BusinessEvent", event),
        )
    assert producer.flush(30) == 0


def read_until(
    settings: Settings, wanted: int, timeout: float = WAIT_SECONDS
) -> tuple[list[tuple[str, dict[str, Any]]], list[dict[str, Any]]]:
    """Enriched (key, record) pairs and notices, once ``wanted`` records arrived."""
    codec = AvroCodec()
    topics = Topics(settings.kafka.topic_prefix)
    consumer = Consumer(
        consumer_config(settings.kafka, f"reader-{uuid.uuid4().hex[:8]}", "reader")
    )
    consumer.subscribe([topics.enriched, topics.notices])
    enriched: list[tuple[str, dict[str, Any]]] = []
    notices: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    try:
        while len(enriched) + len(notices) < wanted and time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is None or message.error():
                continue
            if message.topic() == topics.enriched:
                record = codec.decode("EnrichedEvent", message.value())
                enriched.append((message.key().decode(), record))
            else:
                notices.append(codec.decode("ProcessingNotice", message.value()))
    finally:
        consumer.close()
    return enriched, notices


def test_worker_drops_redelivery_and_keys_records_by_canonical_account(
    pipeline_settings: Settings, tmp_path: Path
) -> None:
    ensure_topics(pipeline_settings)
    history = small_history()
    # An unreadable record first on the customer's partition: skipped, never fatal.
    publish(pipeline_settings, history, garbage=b"\x00not an avro record")

    with running_worker(worker_environment(pipeline_settings), tmp_path / "worker.log"):
        # company profile, profile after the customer joins, one invoice, one notice
        enriched, notices = read_until(pipeline_settings, wanted=4)

    assert [(n["kind"], n["event_id"]) for n in notices] == [("duplicate", "evt_paid")]
    assert notices[0]["delivery"]["position"] == 3
    assert notices[0]["first_delivery"]["position"] == 2

    invoices = [r for _, r in enriched if r["record_kind"] == "invoice"]
    assert len(invoices) == 1
    assert invoices[0]["payload"][1]["payment_status"] == "paid"
    for key, record in enriched:
        assert key == record["canonical_account_id"]
    profiles = [r for _, r in enriched if r["record_kind"] == "account_profile"]
    account = invoices[0]["canonical_account_id"]
    assert profiles[-1]["record_id"] == account
    assert profiles[-1]["account"]["crm_company_ids"] == ["900"]
    assert profiles[-1]["account"]["billing_customer_ids"] == ["cus_900"]
    # The invoice's record continues the trace of the event that carried it, through
    # a deduplicate span and a correlate span.
    trace_id = history[2]["trace_context"]["traceparent"].split("-")[1]
    assert invoices[0]["trace_context"]["traceparent"].split("-")[1] == trace_id
    spans = [
        json.loads(line)
        for line in pipeline_settings.tracing.spans_file.read_text().splitlines()
    ]
    stages = {s["name"] for s in spans if s["context"]["trace_id"] == f"0x{trace_id}"}
    assert stages == {"deduplicate", "reorder", "correlate"}


def test_state_survives_a_worker_restart(
    pipeline_settings: Settings, tmp_path: Path
) -> None:
    ensure_topics(pipeline_settings)
    history = small_history()
    publish(pipeline_settings, history[:3])
    with running_worker(worker_environment(pipeline_settings), tmp_path / "worker.log"):
        enriched, _ = read_until(pipeline_settings, wanted=3)
    account = next(r for _, r in enriched if r["record_kind"] == "invoice")[
        "canonical_account_id"
    ]

    # After the restart: a late redelivery of the paid event, and a new invoice.
    late_copy = {**history[3], "delivery": {**history[3]["delivery"], "position": 9}}
    second_invoice = {
        **history[2],
        "event_id": "evt_paid_2",
        "occurred_at": history[2]["occurred_at"] + 60 * SECOND,
        "payload": (
            "pipeline.Invoice",
            {**history[2]["payload"][1], "invoice_id": "in_901", "number": "ACME-2"},
        ),
    }
    publish(pipeline_settings, [late_copy, second_invoice])
    with running_worker(worker_environment(pipeline_settings), tmp_path / "worker.log"):
        enriched, notices = read_until(pipeline_settings, wanted=5)

    assert [(n["event_id"], n["first_delivery"]["position"]) for n in notices] == [
        ("evt_paid", 2)
    ]
    invoices = {
        r["record_id"]: r["canonical_account_id"]
        for _, r in enriched
        if r["record_kind"] == "invoice"
    }
    assert invoices == {"in_900": account, "in_901": account}


def test_corpus_through_the_broker_reaches_expected_state(
    corpus_dir: Path, pipeline_settings: Settings, tmp_path: Path
) -> None:
    oracle = corpus_oracle()
    ensure_topics(pipeline_settings)
    ingest_corpus(corpus_dir, pipeline_settings)

    with running_worker(worker_environment(pipeline_settings), tmp_path / "worker.log"):
        read_settled(pipeline_settings)

    codec = AvroCodec()
    topics = Topics(pipeline_settings.kafka.topic_prefix)
    enriched = [
        codec.decode("EnrichedEvent", m.value())
        for m in read_all(pipeline_settings.kafka, topics.enriched)
    ]
    notices = [
        codec.decode("ProcessingNotice", m.value())
        for m in read_all(pipeline_settings.kafka, topics.notices)
    ]
    expected = json.loads((corpus_dir / "expected.json").read_text(encoding="utf-8"))
    oracle.assert_matches_expected(oracle.fold_like_the_sink(enriched), expected)
    duplicates = sorted(
        (n["delivery"]["source_name"], n["delivery"]["position"], n["event_id"])
        for n in notices
        if n["kind"] == "duplicate"
    )
    assert duplicates == sorted(
        (d["file"], d["line"], d["event_id"]) for d in expected["duplicate_lines"]
    )
