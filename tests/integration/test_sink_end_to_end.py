"""The Odoo sink against the real broker and the Odoo stand-in over HTTP.

Enriched records are produced to the test's own ``enriched.accounts`` topic, the sink runs
until idle, and Odoo is read back with the client over both protocols.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from standin_fixture import free_loopback_port

from eventbus import AvroCodec, Topics
from eventbus.kafka_config import consumer_config, producer_config
from pipeline.settings import Settings
from sinks.consumer import DEAD_LETTER_HEADER_PREFIX, OdooSink, SinkStats
from sinks.odoo import OdooClient, make_client
from sinks.odoo_state import read_account_views

pytestmark = pytest.mark.integration

# The broker can take several seconds to hand over the first records when the machine
# is busy; a shorter wait stops the sink before it saw anything.
IDLE_SECONDS = 10.0
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
MODULE = "saas_pipeline"


# -- building enriched records ---------------------------------------------------------

# The system each record kind comes from, as the processors publish it; the sink's
# default field ownership lets only that system write the record's fields.
SOURCE_OF_KIND = {
    "account_profile": "crm",
    "contact": "crm",
    "subscription": "billing",
    "invoice": "billing",
    "usage_daily": "product",
    "ticket": "helpdesk",
    "account_merge": "crm",
}


def account(canonical_id: str, revision: int, name: str, **changes: Any) -> dict:
    return {
        "canonical_account_id": canonical_id,
        "revision": revision,
        "display_name": name,
        "domain": f"{canonical_id}.example",
        "country_code": "NO",
        "vat_number": None,
        "linked_to_crm": True,
        "flags": [],
        "crm_company_ids": [f"crm-{canonical_id}"],
        "billing_customer_ids": [f"cus-{canonical_id}"],
        "product_group_ids": [f"ws-{canonical_id}"],
        "helpdesk_organization_ids": [],
        "contact_emails": [f"person@{canonical_id}.example"],
        "billing_emails": [],
    } | changes


def enriched(
    kind: str,
    context: dict[str, Any],
    version: int,
    payload: tuple[str, dict[str, Any]] | None = None,
    *,
    canonical_id: str | None = None,
) -> dict[str, Any]:
    return {
        "canonical_account_id": canonical_id or context["canonical_account_id"],
        "record_kind": kind,
        "record_id": f"{kind}-{version}",
        "version": version,
        "event_id": f"ev-{kind}-{context['canonical_account_id']}-{version}",
        "event_type": "test",
        "source_system": SOURCE_OF_KIND[kind],
        "occurred_at": datetime(2024, 5, 1, tzinfo=UTC),
        "account": context,
        "trace_context": {"traceparent": TRACEPARENT},
        "payload": payload,
    }


def contact(record_id: str, name: str, email: str | None, phone: str | None) -> tuple:
    stamp = datetime(2024, 5, 1, tzinfo=UTC)
    return (
        "pipeline.CrmContact",
        {
            "record_id": record_id,
            "name": name,
            "email": email,
            "phone": phone,
            "company_id": None,
            "created_at": stamp,
            "modified_at": stamp,
        },
    )


def subscription(subscription_id: str, customer: str, status: str, seats: int) -> tuple:
    return (
        "pipeline.Subscription",
        {
            "subscription_id": subscription_id,
            "customer_id": customer,
            "status": status,
            "price_id": "price_1",
            "price_lookup_key": "plan_monthly",
            "product_id": "prod_1",
            "unit_amount": 2500,
            "currency": "nok",
            "currency_exponent": 2,
            "interval": "month",
            "quantity": seats,
            "cancel_at_period_end": False,
        },
    )


def invoice(invoice_id: str, customer: str, status: str, paid: int, **extra: Any):
    return (
        "pipeline.Invoice",
        {
            "invoice_id": invoice_id,
            "number": extra.get("number"),
            "customer_id": customer,
            "subscription_id": extra.get("subscription_id"),
            "status": status,
            "charge_id": None,
            "amount_total": 7500,
            "amount_due": 7500,
            "amount_paid": paid,
            "amount_remaining": 7500 - paid,
            "currency": "nok",
            "currency_exponent": 2,
            "amount_refunded": 0,
            "payment_status": "paid" if status == "paid" else "not_paid",
        },
    )


def usage(group_id: str, day: str, event: str, count: int, quantity: int) -> tuple:
    return (
        "pipeline.UsageDaily",
        {
            "group_id": group_id,
            "day": day,
            "event_name": event,
            "count": count,
            "quantity": quantity,
        },
    )


def ticket(
    ticket_id: str, subject: str | None, status: str, priority: str | None
) -> tuple:
    return (
        "pipeline.Ticket",
        {
            "ticket_id": ticket_id,
            "subject": subject,
            "status": status,
            "priority": priority,
            "organization_id": None,
            "requester_id": None,
        },
    )


def merge(survivor: str, absorbed: str) -> tuple:
    return (
        "pipeline.AccountMerge",
        {
            "survivor_id": survivor,
            "absorbed_ids": [absorbed],
            "reason": "shared domain",
        },
    )


def merge_scenario() -> list[dict[str, Any]]:
    """Two accounts that the processors later join, with late and stale records."""
    a1, a2 = account("acc-a", 1, "Alpha AS"), account("acc-a", 2, "Alpha Group AS")
    b1 = account("acc-b", 1, "Beta AS")
    return [
        enriched("account_profile", a1, 1),
        enriched("contact", a1, 10, contact("c-1", "Ada Alpha", "ada@a.example", None)),
        enriched("subscription", a1, 20, subscription("sub-a", "cus-a", "trialing", 3)),
        enriched("subscription", a1, 21, subscription("sub-a", "cus-a", "active", 5)),
        enriched(
            "invoice", a1, 31, invoice("in-a", "cus-a", "paid", 7500, number="N-1")
        ),
        # Older state delivered after the newer one: the version guard keeps "paid".
        enriched("invoice", a1, 30, invoice("in-a", "cus-a", "open", 0)),
        enriched("usage_daily", a1, 40, usage("ws-a", "2024-05-01", "Calls", 2, 300)),
        enriched("ticket", a1, 50, ticket("t-1", "Login loop", "open", "high")),
        enriched("account_profile", a2, 2),
        enriched("account_profile", b1, 1),
        enriched("usage_daily", b1, 41, usage("ws-b", "2024-05-01", "Calls", 1, 5)),
        enriched("ticket", b1, 51, ticket("t-2", None, "solved", None)),
        enriched("account_merge", b1, 60, merge("acc-a", "acc-b")),
        # A record for the absorbed account after the merge follows x_merged_into.
        enriched("ticket", b1, 52, ticket("t-3", "Invoice copy", "new", "low")),
    ]


# -- Kafka and Odoo plumbing -----------------------------------------------------------


def produce(settings: Settings, records: list[tuple[bytes, bytes]]) -> None:
    producer = Producer(producer_config(settings.kafka, "test-enriched-producer"))
    topic = Topics(settings.kafka.topic_prefix).enriched
    for key, value in records:
        producer.produce(topic, key=key, value=value)
    assert producer.flush(30) == 0


def produce_events(settings: Settings, events: list[dict[str, Any]]) -> None:
    codec = AvroCodec()
    produce(
        settings,
        [
            (e["canonical_account_id"].encode(), codec.encode("EnrichedEvent", e))
            for e in events
        ],
    )


def run_sink_until_idle(settings: Settings, client: OdooClient) -> SinkStats:
    return OdooSink(settings, client, retry_seconds=10).run(
        stop_when_idle_seconds=IDLE_SECONDS
    )


def record_by_xmlid(client: OdooClient, name: str, fields: list[str]) -> dict:
    [xmlid] = client.search_read(
        "ir.model.data",
        [("module", "=", MODULE), ("name", "=", name)],
        ["model", "res_id"],
    )
    [row] = client.read(xmlid["model"], [xmlid["res_id"]], fields)
    return row


# -- tests -----------------------------------------------------------------------------


def test_sink_writes_merges_and_guards_versions(
    sink_settings: Settings, client: OdooClient, corpus_dir: Path
) -> None:
    produce_events(sink_settings, merge_scenario())

    stats = run_sink_until_idle(sink_settings, client)

    assert stats.dead_lettered == 0
    assert stats.merged == 1
    assert stats.skipped_stale >= 1  # the late "open" invoice
    survivor = record_by_xmlid(
        client, "account_acc_a", ["name", "active", "country_id", "x_source_version"]
    )
    assert survivor["name"] == "Alpha Group AS"
    assert survivor["active"] is True
    assert survivor["x_source_version"] == 2
    absorbed = record_by_xmlid(client, "account_acc_b", ["active", "x_merged_into"])
    assert absorbed == {"id": absorbed["id"], "active": False, "x_merged_into": "acc-a"}
    move = record_by_xmlid(
        client, "invoice_in_a", ["x_status", "x_source_version", "move_type"]
    )
    assert (move["x_status"], move["x_source_version"]) == ("paid", 31)
    assert move["move_type"] == "out_invoice"
    for ticket_name in ("ticket_t_1", "ticket_t_2", "ticket_t_3"):
        row = record_by_xmlid(client, ticket_name, ["partner_id"])
        assert row["partner_id"][0] == survivor["id"]
    order = record_by_xmlid(
        client, "subscription_sub_a", ["subscription_state", "x_quantity"]
    )
    assert (order["subscription_state"], order["x_quantity"]) == ("3_progress", 5)

    [view] = read_account_views(client)
    assert view["display_name"] == "Alpha Group AS"
    assert view["country"] == "NO"
    assert view["contacts"] == [
        {
            "crm_contact_id": "c-1",
            "name": "Ada Alpha",
            "email": "ada@a.example",
            "phone": None,
        }
    ]
    assert [s["status"] for s in view["subscriptions"]] == ["active"]
    assert view["subscriptions"][0]["currency"] == "nok"
    assert view["invoices"][0]["invoice_status"] == "paid"
    assert view["invoices"][0]["number"] == "N-1"
    assert view["usage"] == [
        {"day": "2024-05-01", "event": "Calls", "count": 3, "quantity": 305}
    ]
    assert {t["ticket_id"]: t["priority"] for t in view["tickets"]} == {
        "t-1": "high",
        "t-2": None,
        "t-3": "low",
    }
    assert {t["ticket_id"]: t["subject"] for t in view["tickets"]} == {
        "t-1": "Login loop",
        "t-2": None,
        "t-3": "Invoice copy",
    }
    assert_same_shape_as_corpus_accounts(view, corpus_dir)


def assert_same_shape_as_corpus_accounts(view: dict[str, Any], corpus: Path) -> None:
    """The view has the field names of the corpus's expected accounts, nested too."""
    expected = json.loads((corpus / "expected.json").read_text())["accounts"]
    account_fields = {name for account in expected for name in account}
    assert set(view) - {"canonical_account_id"} == account_fields - {"account_ref"}
    for child in ("contacts", "subscriptions", "invoices", "usage", "tickets"):
        child_fields = {
            name for account in expected for row in account[child] for name in row
        }
        assert {name for row in view[child] for name in row} == child_fields, child


def test_sink_commits_offsets_it_wrote(
    sink_settings: Settings, client: OdooClient
) -> None:
    events = merge_scenario()
    produce_events(sink_settings, events)

    run_sink_until_idle(sink_settings, client)

    topic = Topics(sink_settings.kafka.topic_prefix).enriched
    probe = Consumer(consumer_config(sink_settings.kafka, "watermarks", "probe"))
    try:
        highs = [
            probe.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(sink_settings.kafka.partitions)
        ]
    finally:
        probe.close()
    assert committed_offsets(sink_settings) == highs
    assert sum(highs) == len(events)


def test_permanent_errors_go_to_deadletter_and_neighbours_are_written(
    sink_settings: Settings, client: OdooClient
) -> None:
    context = account("acc-d", 1, "Delta AS")
    codec = AvroCodec()
    good_before = enriched("ticket", context, 1, ticket("t-10", "Before", "open", None))
    # Odoo refuses the day (a ValidationError over HTTP): a permanent error.
    refused = enriched(
        "usage_daily", context, 2, usage("ws-d", "2024-13-45", "E", 1, 1)
    )
    good_after = enriched("ticket", context, 3, ticket("t-11", "After", "open", "low"))
    key = b"acc-d"
    produce(
        sink_settings,
        [
            (key, codec.encode("EnrichedEvent", good_before)),
            (key, codec.encode("EnrichedEvent", refused)),
            (key, b"\x01not avro"),
            (key, codec.encode("EnrichedEvent", good_after)),
        ],
    )

    stats = run_sink_until_idle(sink_settings, client)

    assert stats.dead_lettered == 2
    assert record_by_xmlid(client, "ticket_t_10", ["name"])["name"] == "Before"
    assert record_by_xmlid(client, "ticket_t_11", ["name"])["name"] == "After"
    assert client.search_count("x_product_usage", []) == 0

    letters = read_dead_letters(sink_settings, expected=2)
    enriched_topic = Topics(sink_settings.kafka.topic_prefix).enriched
    first, second = (headers for _, headers in letters)
    assert first["error-class"] == "OdooValidationError"
    assert "x_day" in first["error-message"]
    assert first["original-topic"] == enriched_topic
    assert first["trace-id"] == "0af7651916cd43dd8448eb211c80319c"
    assert first["attempts"] == "1"
    assert int(second["original-offset"]) == int(first["original-offset"]) + 1
    assert first["original-partition"] == second["original-partition"]
    assert second["error-class"] == "WireFormatError"
    assert letters[0][0] == codec.encode("EnrichedEvent", refused)
    assert letters[1][0] == b"\x01not avro"


def test_unreachable_odoo_commits_nothing_and_loses_nothing(
    sink_settings: Settings, client: OdooClient
) -> None:
    events = merge_scenario()
    produce_events(sink_settings, events)
    unreachable = sink_settings.model_copy(
        update={
            "odoo": sink_settings.odoo.model_copy(
                update={"url": f"http://127.0.0.1:{free_loopback_port()}"}
            )
        }
    )

    # Nothing listens there: every call fails transiently, retries run out, the
    # partitions are rewound again and again until the sink is stopped.
    with make_client(unreachable.odoo) as down:
        sink = OdooSink(unreachable, down, retry_seconds=1.0)
        stopper = threading.Timer(8.0, sink.stop)
        stopper.start()
        try:
            stats = sink.run()
        finally:
            stopper.cancel()

    assert stats.written == stats.dead_lettered == 0
    assert committed_offsets(sink_settings) == [0] * sink_settings.kafka.partitions

    stats = run_sink_until_idle(sink_settings, client)

    assert stats.dead_lettered == 0
    assert sum(stats.by_model[m]["created"] for m in stats.by_model) > 0
    assert client.search_count("helpdesk.ticket", []) == 3
    assert sum(committed_offsets(sink_settings)) == len(events)


def committed_offsets(settings: Settings) -> list[int]:
    topic = Topics(settings.kafka.topic_prefix).enriched
    probe = Consumer(consumer_config(settings.kafka, settings.sink.group_id, "probe"))
    try:
        partitions = [
            TopicPartition(topic, p) for p in range(settings.kafka.partitions)
        ]
        return [max(tp.offset, 0) for tp in probe.committed(partitions, timeout=10)]
    finally:
        probe.close()


def read_dead_letters(
    settings: Settings, expected: int
) -> list[tuple[bytes, dict[str, str]]]:
    topic = Topics(settings.kafka.topic_prefix).sink_deadletter
    consumer = Consumer(consumer_config(settings.kafka, "dead-letter-probe", "probe"))
    consumer.assign([TopicPartition(topic, 0, 0)])
    letters: list[tuple[bytes, dict[str, str]]] = []
    try:
        for _ in range(30):
            for message in consumer.consume(num_messages=10, timeout=1.0):
                if message.error() is None:
                    headers = {
                        name.removeprefix(DEAD_LETTER_HEADER_PREFIX): value.decode()
                        for name, value in message.headers() or []
                    }
                    letters.append((message.value(), headers))
            if len(letters) >= expected:
                break
    finally:
        consumer.close()
    assert len(letters) == expected
    return letters
