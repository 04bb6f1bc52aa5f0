"""The shared redaction policy keeps personal data out of span attributes and logs."""

from __future__ import annotations

import io
import json
import logging

import pytest

from telemetry.logs import JsonLineFormatter
from telemetry.redaction import REDACTED, contains_personal_data, safe_attributes
from telemetry.span_attributes import (
    business_event_attributes,
    enriched_record_attributes,
    kafka_process_attributes,
)


@pytest.mark.parametrize(
    "text",
    [
        "jane.doe@example.org",
        "Contact: Jane.Doe+billing@Sub.Example.co.uk, thanks",
        "product_user:someone@example.net",
        "+1 212-555-0101",
        "+44 20 7946 0958",
        "(555) 010-2233",
        "555.010.2233",
    ],
)
def test_email_addresses_and_phone_numbers_are_recognised(text: str) -> None:
    assert contains_personal_data(text)


@pytest.mark.parametrize(
    "text",
    [
        "evt_1EqMxHDlWepZA089Eb0O9OMs",
        "crm_company:18260501121:2024-09-02T09:14:00Z",
        "2024-09-03T09:58:10.000Z",
        "18260501121",
        "acct_79bb04004288c560",
        "saas_pipeline.invoice_in_1EqMxHDlWepZA089Eb0O9OMs",
        "usage_g_1_2024-10-03_Report Exported",
        "479f7b8b-4605-4287-9164-8af5059ebcf8",
        "1f2e3d4c-1234-5678-9012-abcdefabcdef",
    ],
)
def test_ids_timestamps_and_external_ids_pass(text: str) -> None:
    assert not contains_personal_data(text)


def test_personal_data_field_names_are_redacted_whatever_their_value() -> None:
    cleaned = safe_attributes(
        {
            "customer.email": "not-an-address",
            "contact.name": "Jane Doe",
            "phone": "12",
            "ticket.subject": "Cannot log in",
            "billing.address": "1 Main St",
            "api_token": "abc",
        }
    )
    assert set(cleaned.values()) == {REDACTED}


def test_technical_names_are_kept_and_empty_values_dropped() -> None:
    cleaned = safe_attributes(
        {
            "messaging.destination.name": "source.billing",
            "messaging.consumer.group.name": "odoo-sink",
            "service.name": "processors",
            "event.type": "invoice.paid",
            "source.object_number": None,
            "workflow": "",
        }
    )
    assert cleaned == {
        "messaging.destination.name": "source.billing",
        "messaging.consumer.group.name": "odoo-sink",
        "service.name": "processors",
        "event.type": "invoice.paid",
    }


def test_values_holding_an_email_or_phone_are_redacted_under_any_name() -> None:
    cleaned = safe_attributes(
        {
            "messaging.kafka.message.key": "product_user:jane@example.org",
            "source.object_id": "+1 212-555-0101",
            "event.id": "evt_123",
        }
    )
    assert cleaned == {
        "messaging.kafka.message.key": REDACTED,
        "source.object_id": REDACTED,
        "event.id": "evt_123",
    }


def test_business_attributes_never_read_contact_fields_of_the_payload() -> None:
    event = {
        "event_id": "crm_contact:1:2024-09-02T09:20:00Z",
        "event_type": "crm.contact",
        "source_system": "crm",
        "source_object_id": "1",
        "payload": (
            "pipeline.CrmContact",
            {
                "first_name": "Jane",
                "last_name": "Doe",
                "email": "jane@example.org",
                "phone": "+1 212-555-0101",
            },
        ),
    }
    attributes = business_event_attributes(event)
    flat = json.dumps(attributes)
    for value in ("Jane", "Doe", "jane@example.org", "555-0101"):
        assert value not in flat
    assert attributes["workflow"] == "customer master"


def test_enriched_records_carry_account_workflow_and_invoice_number() -> None:
    record = {
        "event_id": "evt_9",
        "event_type": "invoice.payment_failed",
        "source_system": "billing",
        "record_kind": "invoice",
        "record_id": "in_42",
        "canonical_account_id": "acct_1",
        "account": {"display_name": "Jane Doe Ltd", "contact_emails": ["j@x.example"]},
        "payload": ("pipeline.Invoice", {"invoice_id": "in_42", "number": "INV-0042"}),
    }
    attributes = enriched_record_attributes(record)
    assert attributes == {
        "event.id": "evt_9",
        "event.type": "invoice.payment_failed",
        "source.system": "billing",
        "source.object_id": "in_42",
        "source.object_number": "INV-0042",
        "record.kind": "invoice",
        "workflow": "billing",
        "account.canonical_id": "acct_1",
    }


def test_kafka_process_attributes_follow_the_messaging_conventions() -> None:
    attributes = kafka_process_attributes("enriched.accounts", 2, 37, b"acct_1", "sink")
    assert attributes == {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.destination.name": "enriched.accounts",
        "messaging.destination.partition.id": "2",
        "messaging.kafka.offset": 37,
        "messaging.kafka.message.key": "acct_1",
        "messaging.consumer.group.name": "sink",
    }


def test_log_lines_go_through_the_same_policy() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLineFormatter())
    log = logging.getLogger("test_telemetry_redaction")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning(
            "contact updated",
            extra={"contact_email": "a@b.example", "record": "x jane@example.org"},
        )
    finally:
        log.removeHandler(handler)
    line = json.loads(stream.getvalue())
    assert line["contact_email"] == REDACTED
    assert line["record"] == REDACTED
