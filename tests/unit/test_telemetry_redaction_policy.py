"""The cheap paths of the redaction policy miss nothing the full scan would catch."""

from __future__ import annotations

import io
import json
import logging

from hypothesis import given, settings
from hypothesis import strategies as st

from telemetry.logs import JsonLineFormatter
from telemetry.redaction import (
    CLOSED_SET_FIELD_NAMES,
    EMAIL_PATTERN,
    PHONE_PATTERN,
    REDACTED,
    FieldPolicy,
    contains_personal_data,
    field_policy,
    redact,
    safe_attributes,
)
from telemetry.span_attributes import (
    ODOO_EXTERNAL_ID,
    SEARCHABLE_ATTRIBUTES,
    SOURCE_OBJECT_NUMBER,
    business_event_attributes,
    enriched_record_attributes,
    kafka_process_attributes,
    kafka_send_attributes,
)

# Characters the two patterns care about, plus whitespace other than the space.
_TRICKY_TEXT = st.text(
    alphabet=st.sampled_from(
        list("0123456789+-.() @_:aZx,<>'\"")
        + ["\t", "\n", "\u00a0", "\u2009", "\u3000"]
    ),
    max_size=30,
)


@settings(max_examples=3000, deadline=None)
@given(_TRICKY_TEXT)
def test_the_prefilters_agree_with_the_full_patterns(text: str) -> None:
    full_scan = bool(EMAIL_PATTERN.search(text) or PHONE_PATTERN.search(text))
    assert contains_personal_data(text) == full_scan


def test_phone_numbers_split_by_unusual_whitespace_are_still_recognised() -> None:
    assert contains_personal_data("call 555\u00a0010\u00a02233")
    assert contains_personal_data("555\t010\t2233")
    assert contains_personal_data("+44\u20092079460958")


def test_ids_chosen_by_sources_are_scanned_every_time() -> None:
    for field in (*SEARCHABLE_ATTRIBUTES, ODOO_EXTERNAL_ID, SOURCE_OBJECT_NUMBER):
        assert field_policy(field) is FieldPolicy.SCAN, field
    assert field_policy("messaging.kafka.message.key") is FieldPolicy.SCAN
    assert field_policy("some.new_attribute") is FieldPolicy.SCAN


def test_closed_set_fields_still_redact_personal_data_each_time() -> None:
    for field in sorted(CLOSED_SET_FIELD_NAMES):
        for _ in range(2):
            cleaned = safe_attributes(
                {field: "jane@example.org", f"{field}.x": "(555) 010-2233"}
            )
            assert cleaned[field] == REDACTED, field
            assert cleaned[f"{field}.x"] == REDACTED, field
            assert redact(field, "+1 212-555-0101") == REDACTED, field
        assert safe_attributes({field: "invoice.paid"}) == {field: "invoice.paid"}


def test_numbers_and_non_text_values_follow_the_policy() -> None:
    cleaned = safe_attributes(
        {
            "messaging.kafka.offset": 37,
            "pipeline.records_out": 0,
            "retry": False,
            "ratio": 0.5,
            "contact.phone": 5550102233,
            "record": ["jane@example.org"],
        }
    )
    assert cleaned == {
        "messaging.kafka.offset": 37,
        "pipeline.records_out": 0,
        "retry": False,
        "ratio": 0.5,
        "contact.phone": REDACTED,
        "record": REDACTED,
    }


def test_record_attribute_builders_redact_contact_data_in_ids_and_keys() -> None:
    sent = kafka_send_attributes("source.product", b"product_user:jane@example.org")
    assert sent["messaging.kafka.message.key"] == REDACTED
    processed = kafka_process_attributes(
        "source.product", 0, 1, "+1 212-555-0101", "processors"
    )
    assert processed["messaging.kafka.message.key"] == REDACTED

    event = {
        "event_id": "seg:jane@example.org:1",
        "event_type": "identify",
        "source_system": "product",
        "source_object_id": "jane@example.org",
        "payload": ("pipeline.Invoice", {"number": "555-010-2233"}),
    }
    business = business_event_attributes(event)
    assert business["event.id"] == REDACTED
    assert business["source.object_id"] == REDACTED
    assert business["source.object_number"] == REDACTED
    assert business["event.type"] == "identify"

    enriched = enriched_record_attributes(
        {
            "event_id": "evt_1",
            "event_type": "identify",
            "source_system": "product",
            "record_kind": "contact",
            "record_id": "product_user:jane@example.org",
            "canonical_account_id": "acct_0123456789abcdef",
            "payload": None,
        }
    )
    assert enriched["source.object_id"] == REDACTED
    assert enriched["account.canonical_id"] == "acct_0123456789abcdef"


def test_log_fields_with_secrets_or_contact_data_are_redacted() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLineFormatter())
    log = logging.getLogger("test_telemetry_redaction_policy")
    log.addHandler(handler)
    log.propagate = False
    try:
        for _ in range(2):
            log.warning(
                "odoo refused",
                extra={
                    "api_token": "tok_live_abc",
                    "odoo_password": "hunter2",
                    "record_id": "+44 20 7946 0958",
                    "outcome": "jane@example.org",
                    "offset": 41,
                    "event_id": "evt_1",
                },
            )
    finally:
        log.removeHandler(handler)
    for raw in stream.getvalue().splitlines():
        line = json.loads(raw)
        assert line["api_token"] == REDACTED
        assert line["odoo_password"] == REDACTED
        assert line["record_id"] == REDACTED
        assert line["outcome"] == REDACTED
        assert line["offset"] == 41
        assert line["event_id"] == "evt_1"
