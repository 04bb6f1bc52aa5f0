"""Audit events say who did what to which record and why, without personal data."""

from __future__ import annotations

import json

from sinks.audit import AuditTrail, PersonalDataMask
from sinks.consumer import DeadLetter, RecordSource
from sinks.odoo_writer import WriteAction, WriteOutcome

SOURCE = RecordSource("enriched.accounts", 2, 41)
EVENT = {
    "canonical_account_id": "acc-1",
    "record_kind": "contact",
    "event_id": "ev-1",
    "source_system": "crm",
    "trace_context": {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7-01"},
}


def test_update_carries_before_and_after_with_personal_data_masked() -> None:
    trail = AuditTrail("sink-a", PersonalDataMask(enabled=True))
    outcome = WriteOutcome("res.partner", "crm_contact_9", WriteAction.UPDATED)
    before = {"name": "Ada Old", "email": "ada@old.example", "parent_id": [7, "Org"]}
    after = {
        "name": "Ada New",
        "email": "ada@new.example",
        "phone": "+47 22 33 44 55",
        "parent_id": 8,
        "x_crm_contact_id": "9",
    }

    audit = trail.for_outcome(SOURCE, EVENT, outcome, before, after)
    body = json.loads(audit.value())

    assert audit.key == "acc-1"
    assert body["sink_instance"] == "sink-a"
    assert (body["action"], body["model"], body["external_id"]) == (
        "updated",
        "res.partner",
        "crm_contact_9",
    )
    assert body["after"]["email"] == "***@new.example"
    assert body["after"]["phone"] == "***55"
    assert body["after"]["name"] == "***"
    assert body["before"]["email"] == "***@old.example"
    assert body["before"]["parent_id"] == 7
    assert body["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert "Ada" not in audit.value().decode()


def test_company_names_stay_readable_and_lists_of_emails_are_masked() -> None:
    mask = PersonalDataMask(enabled=True)

    masked = mask.fields(
        "res.partner",
        {"is_company": True, "name": "Org AS", "x_billing_emails": '["b@org.example"]'},
    )

    assert masked["name"] == "Org AS"
    assert json.loads(masked["x_billing_emails"]) == ["***@org.example"]


def test_masking_can_be_switched_off() -> None:
    mask = PersonalDataMask(enabled=False)

    assert mask.fields("res.partner", {"email": "a@b.example"}) == {
        "email": "a@b.example"
    }


def test_dead_letter_event_names_the_error_class_but_not_its_message() -> None:
    trail = AuditTrail("sink-a", PersonalDataMask(enabled=True))
    letter = DeadLetter(
        SOURCE, "OdooValidationError", "email ada@x.example refused", 1, "", "ev-1"
    )

    first = trail.for_dead_letter(EVENT, letter)
    again = trail.for_dead_letter(EVENT, letter)
    body = json.loads(first.value())

    assert body["action"] == "dead_lettered"
    assert body["reason"].startswith("OdooValidationError")
    assert "ada@x.example" not in first.value().decode()
    assert body["audit_id"] == json.loads(again.value())["audit_id"]
    assert body["position"] == {"topic": SOURCE.topic, "partition": 2, "offset": 41}
