"""Each validation rule, and that the first failing rule in contract order names the
reason."""

from __future__ import annotations

import json
from typing import Any

import pytest

from producers.validation import (
    BILLING_RULES,
    HELPDESK_EVENT_RULES,
    PRODUCT_RULES,
    REFERENCE_EXPORT_RULES,
    Rejection,
    validate_csv_row,
    validate_json_line,
)

LIMIT = 65536


def _line(document: Any) -> bytes:
    return json.dumps(document).encode()


def _reason(line: bytes, rules=BILLING_RULES, limit: int = LIMIT) -> str | None:
    result = validate_json_line(line, rules, limit)
    return result.reason if isinstance(result, Rejection) else None


def _invoice(**fields: Any) -> dict[str, Any]:
    invoice = {
        "id": "in_1",
        "amount_due": 100,
        "amount_paid": 0,
        "amount_remaining": 100,
        "total": 100,
        "subtotal": 100,
        "currency": "eur",
        "lines": {"data": [{"amount": 100, "currency": "eur"}]},
    }
    invoice.update(fields)
    return {"id": "evt_1", "type": "invoice.created", "data": {"object": invoice}}


def test_valid_line_returns_the_document() -> None:
    document = _invoice()
    assert validate_json_line(_line(document), BILLING_RULES, LIMIT) == document


def test_oversized_at_one_byte_over_the_limit() -> None:
    line = _line(_invoice(description="x" * 100))
    assert _reason(line, limit=len(line)) is None
    assert _reason(line, limit=len(line) - 1) == "oversized_payload"


def test_oversized_wins_over_invalid_json() -> None:
    assert _reason(b"{" + b"x" * 100, limit=50) == "oversized_payload"


@pytest.mark.parametrize(
    "line", [b'{"id": "evt_1", "type": "invoice.cre', b"[1, 2]", b"", b"\xff\xfe{}"]
)
def test_invalid_json(line: bytes) -> None:
    assert _reason(line) == "invalid_json"


def test_invalid_json_wins_over_missing_type() -> None:
    assert _reason(b'{"data": ') == "invalid_json"


@pytest.mark.parametrize(
    "document",
    [
        {"type": "identify", "traits": {"name": "a\u0000b"}},
        {"type": "identify", "traits": {"na\u0000me": "ab"}},
        {"type": "identify", "traits": {"list": [{"deep": ["\u0000"]}]}},
    ],
)
def test_null_byte_anywhere(document: dict[str, Any]) -> None:
    assert _reason(_line(document), PRODUCT_RULES) == "null_byte"


def test_null_byte_wins_over_missing_type() -> None:
    assert _reason(_line({"name": "\u0000"}), PRODUCT_RULES) == "null_byte"


@pytest.mark.parametrize("document", [{"messageId": "m"}, {"type": ""}, {"type": None}])
def test_missing_type(document: dict[str, Any]) -> None:
    assert _reason(_line(document), PRODUCT_RULES) == "missing_type"


@pytest.mark.parametrize(
    ("rules", "event_type"),
    [
        (BILLING_RULES, "invoice.payment_reminder_scheduled"),
        (BILLING_RULES, "track"),
        (PRODUCT_RULES, "page"),
        (HELPDESK_EVENT_RULES, "zen:event-type:ticket.deleted"),
        (HELPDESK_EVENT_RULES, 42),
    ],
)
def test_unknown_event_type(rules, event_type: object) -> None:
    assert _reason(_line({"type": event_type}), rules) == "unknown_event_type"


def test_unknown_type_wins_over_negative_amount() -> None:
    document = _invoice(amount_due=-1)
    document["type"] = "invoice.voided_somehow"
    assert _reason(_line(document)) == "unknown_event_type"


@pytest.mark.parametrize("field", ["amount_due", "amount_paid", "amount_remaining"])
def test_negative_invoice_amounts(field: str) -> None:
    assert _reason(_line(_invoice(**{field: -4500}))) == "negative_amount"


def test_negative_invoice_total_and_line_items_are_legitimate() -> None:
    credit = _invoice(
        total=-200,
        subtotal=-200,
        amount_due=0,
        amount_remaining=0,
        lines={"data": [{"amount": -300, "currency": "eur"}, {"amount": 100}]},
    )
    assert _reason(_line(credit)) is None


def test_zero_amount_is_not_negative() -> None:
    assert _reason(_line(_invoice(amount_due=0, amount_remaining=0, total=0))) is None


@pytest.mark.parametrize("field", ["amount", "amount_captured", "amount_refunded"])
def test_negative_charge_amounts(field: str) -> None:
    charge = {"id": "ch_1", "amount": 10, "amount_captured": 10, "amount_refunded": 0}
    charge[field] = -1
    document = {"type": "charge.refunded", "data": {"object": charge}}
    assert _reason(_line(document)) == "negative_amount"


@pytest.mark.parametrize(
    "item",
    [
        {"quantity": -2, "price": {"unit_amount": 2500, "currency": "eur"}},
        {"quantity": 2, "price": {"unit_amount": -2500, "currency": "eur"}},
    ],
)
def test_negative_subscription_price_or_quantity(item: dict[str, Any]) -> None:
    subscription = {"id": "sub_1", "currency": "eur", "items": {"data": [item]}}
    document = {
        "type": "customer.subscription.updated",
        "data": {"object": subscription},
    }
    assert _reason(_line(document)) == "negative_amount"


@pytest.mark.parametrize("field", ["calls", "seats_added"])
def test_negative_segment_quantities(field: str) -> None:
    document = {"type": "track", "properties": {field: -5}}
    assert _reason(_line(document), PRODUCT_RULES) == "negative_amount"


def test_negative_amount_in_an_unlisted_field_is_accepted() -> None:
    document = {"type": "track", "properties": {"discount": -5, "calls": 3}}
    assert _reason(_line(document), PRODUCT_RULES) is None


def test_negative_amount_wins_over_unknown_currency() -> None:
    assert _reason(_line(_invoice(amount_due=-1, currency="zzz"))) == "negative_amount"


@pytest.mark.parametrize("currency", ["zzz", "EURO", "", 978])
def test_unknown_currency(currency: object) -> None:
    assert _reason(_line(_invoice(currency=currency))) == "unknown_currency"


def test_unknown_currency_on_a_line_item() -> None:
    document = _invoice(lines={"data": [{"amount": 100, "currency": "xxy"}]})
    assert _reason(_line(document)) == "unknown_currency"


@pytest.mark.parametrize("currency", ["eur", "JPY", "gbp"])
def test_known_currency_in_any_case(currency: str) -> None:
    assert _reason(_line(_invoice(currency=currency))) is None


def test_reference_exports_skip_type_checks_but_not_null_bytes() -> None:
    export_line = _line({"id": 1, "email": "a@b.example"})
    assert _reason(export_line, REFERENCE_EXPORT_RULES) is None
    null_line = _line({"id": 1, "name": "a\u0000"})
    assert _reason(null_line, REFERENCE_EXPORT_RULES) == "null_byte"


def test_rejection_detail_carries_no_values() -> None:
    secret = "felix.secret@example.test"
    line = _line({"type": "identify", "traits": {"email": secret + "\u0000"}})
    result = validate_json_line(line, PRODUCT_RULES, LIMIT)
    assert isinstance(result, Rejection)
    assert secret not in result.detail


@pytest.mark.parametrize("record_id", ["CO-8891", "", " ", "12a", "١٢٣", "12.5"])
def test_csv_non_numeric_record_id(record_id: str) -> None:
    rejection = validate_csv_row({"Record ID": record_id, "Name": "x"}, "Record ID")
    assert rejection is not None and rejection.reason == "non_numeric_record_id"


def test_csv_null_byte() -> None:
    rejection = validate_csv_row({"Record ID": "123", "Name": "a\x00b"}, "Record ID")
    assert rejection is not None and rejection.reason == "null_byte"


def test_csv_record_id_checked_before_null_byte() -> None:
    rejection = validate_csv_row({"Record ID": "x", "Name": "\x00"}, "Record ID")
    assert rejection is not None and rejection.reason == "non_numeric_record_id"


def test_csv_valid_row() -> None:
    assert (
        validate_csv_row({"Record ID": "18260501121", "Email": ""}, "Record ID") is None
    )
