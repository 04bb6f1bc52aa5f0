"""Line and row validation, applied to every input before any mapping.

For JSON lines the checks run in a fixed order and the first failing one names the
reason (the order is part of the corpus contract):

1. ``oversized_payload``  the line is longer than the configured byte limit;
2. ``invalid_json``       the line is not a JSON object;
3. ``null_byte``          a key or string value anywhere contains U+0000;
4. ``missing_type``       ``type`` is absent or empty;
5. ``unknown_event_type`` the type is not one this source's adapter handles;
6. ``negative_amount``    a negative value in one of the source's amount fields;
7. ``unknown_currency``   a currency that is not an ISO-4217 code.

Reference exports (helpdesk users and organizations) carry no ``type``; they get checks
1-3 only. CSV rows get ``non_numeric_record_id`` and ``null_byte``.

Details name the field and the check, never a value from the record, so a rejection can
be logged and stored without personal data.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from producers.money import is_iso4217

OVERSIZED_PAYLOAD = "oversized_payload"
INVALID_JSON = "invalid_json"
NULL_BYTE = "null_byte"
MISSING_TYPE = "missing_type"
UNKNOWN_EVENT_TYPE = "unknown_event_type"
NEGATIVE_AMOUNT = "negative_amount"
UNKNOWN_CURRENCY = "unknown_currency"
NON_NUMERIC_RECORD_ID = "non_numeric_record_id"
INVALID_PAYLOAD = "invalid_payload"


@dataclass(frozen=True)
class Rejection:
    """Why an input was refused: a machine reason and a short detail without values."""

    reason: str
    detail: str


Document = dict[str, Any]
AmountCheck = Callable[[Document], str | None]
CurrencyCheck = Callable[[Document], str | None]


@dataclass(frozen=True)
class SourceRules:
    """The source-specific part of validation (checks 4-7).

    ``handled_types`` None means the input has no ``type`` (a reference export) and
    checks 4-7 do not apply. The two callables return the path of the first offending
    field, or None.
    """

    handled_types: frozenset[str] | None
    negative_amount_field: AmountCheck
    unknown_currency_field: CurrencyCheck


def _is_negative(value: object) -> bool:
    # bool is an int in Python; a flag is never an amount.
    return isinstance(value, int | float) and not isinstance(value, bool) and value < 0


def _first_negative(obj: object, fields: tuple[str, ...], path: str) -> str | None:
    if not isinstance(obj, Mapping):
        return None
    for name in fields:
        if _is_negative(obj.get(name)):
            return f"{path}.{name}"
    return None


def _mapping(obj: object, *keys: str) -> Mapping[str, Any]:
    """Walk nested objects; anything missing or not an object yields an empty mapping."""
    for key in keys:
        obj = obj.get(key) if isinstance(obj, Mapping) else None
    return obj if isinstance(obj, Mapping) else {}


def _subscription_items(subscription: Mapping[str, Any]) -> list[Any]:
    items = _mapping(subscription, "items").get("data")
    return items if isinstance(items, list) else []


def _stripe_negative_amount(document: Document) -> str | None:
    event_type = str(document.get("type"))
    obj = _mapping(document, "data", "object")
    path = "data.object"
    if event_type.startswith("invoice."):
        # Line items and total/subtotal may legitimately be negative (proration
        # credits); only what the customer owes or paid may not.
        fields = ("amount_due", "amount_paid", "amount_remaining")
        return _first_negative(obj, fields, path)
    if event_type.startswith("charge."):
        fields = ("amount", "amount_captured", "amount_refunded")
        return _first_negative(obj, fields, path)
    if event_type.startswith("customer.subscription."):
        found = _first_negative(obj, ("quantity",), path)
        if found:
            return found
        for index, item in enumerate(_subscription_items(obj)):
            item_path = f"{path}.items.data[{index}]"
            found = _first_negative(item, ("quantity",), item_path)
            found = found or _first_negative(
                _mapping(item, "price"), ("unit_amount",), f"{item_path}.price"
            )
            if found:
                return found
    return None


def _currency_fields(obj: object, path: str) -> Iterator[tuple[str, object]]:
    """Every non-null ``currency`` value below ``obj`` with its path."""
    stack: list[tuple[object, str]] = [(obj, path)]
    while stack:
        node, node_path = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                child_path = f"{node_path}.{key}"
                if key == "currency" and value is not None:
                    yield child_path, value
                else:
                    stack.append((value, child_path))
        elif isinstance(node, list):
            stack.extend((value, f"{node_path}[{i}]") for i, value in enumerate(node))


def _stripe_unknown_currency(document: Document) -> str | None:
    # Stripe repeats the currency on prices and line items; any of them being wrong
    # means the object cannot be booked.
    for path, value in _currency_fields(
        _mapping(document, "data", "object"), "data.object"
    ):
        if not is_iso4217(value):
            return path
    return None


def _segment_negative_amount(document: Document) -> str | None:
    return _first_negative(
        _mapping(document, "properties"), ("calls", "seats_added"), "properties"
    )


def _segment_unknown_currency(document: Document) -> str | None:
    currency = _mapping(document, "properties").get("currency")
    if currency is not None and not is_iso4217(currency):
        return "properties.currency"
    return None


def _no_field(document: Document) -> str | None:
    return None


BILLING_RULES = SourceRules(
    handled_types=frozenset(
        {
            "customer.created",
            "customer.updated",
            "customer.subscription.created",
            "customer.subscription.updated",
            "customer.subscription.deleted",
            "invoice.created",
            "invoice.finalized",
            "invoice.paid",
            "invoice.payment_failed",
            "charge.refunded",
        }
    ),
    negative_amount_field=_stripe_negative_amount,
    unknown_currency_field=_stripe_unknown_currency,
)

PRODUCT_RULES = SourceRules(
    handled_types=frozenset({"track", "identify", "group"}),
    negative_amount_field=_segment_negative_amount,
    unknown_currency_field=_segment_unknown_currency,
)

HELPDESK_EVENT_RULES = SourceRules(
    handled_types=frozenset(
        {
            "zen:event-type:ticket.created",
            "zen:event-type:ticket.status_changed",
            "zen:event-type:ticket.priority_changed",
            "zen:event-type:ticket.comment_added",
        }
    ),
    negative_amount_field=_no_field,
    unknown_currency_field=_no_field,
)

REFERENCE_EXPORT_RULES = SourceRules(
    handled_types=None,
    negative_amount_field=_no_field,
    unknown_currency_field=_no_field,
)


def null_byte_path(value: object, path: str = "$") -> str | None:
    """Path of the first key or string value containing U+0000, at any depth."""
    stack: list[tuple[object, str]] = [(value, path)]
    while stack:
        node, node_path = stack.pop()
        if isinstance(node, str):
            if "\x00" in node:
                return node_path
        elif isinstance(node, dict):
            for key, child in node.items():
                if isinstance(key, str) and "\x00" in key:
                    return f"{node_path} (a key)"
                stack.append((child, f"{node_path}.{key}"))
        elif isinstance(node, list):
            stack.extend((child, f"{node_path}[{i}]") for i, child in enumerate(node))
    return None


def validate_json_line(
    line: bytes, rules: SourceRules, max_line_bytes: int
) -> Document | Rejection:
    """The parsed document of a valid line, or the first rule it breaks."""
    if len(line) > max_line_bytes:
        return Rejection(
            OVERSIZED_PAYLOAD, f"line is {len(line)} bytes, limit {max_line_bytes}"
        )

    try:
        document = json.loads(line)
    except (ValueError, RecursionError):
        # ValueError covers malformed JSON and bytes that are not UTF-8.
        return Rejection(INVALID_JSON, "line does not parse as JSON")
    if not isinstance(document, dict):
        return Rejection(INVALID_JSON, "line is JSON but not an object")

    # Inside a JSON string U+0000 can only be written as the escape \u0000 (a raw NUL
    # does not parse), so the walk is needed only when the escape occurs in the line.
    found = null_byte_path(document) if b"\\u0000" in line else None
    if found:
        return Rejection(NULL_BYTE, f"U+0000 in {found}")

    if rules.handled_types is None:
        return document

    event_type = document.get("type")
    if event_type is None or event_type == "":
        return Rejection(MISSING_TYPE, "no event type")
    if not isinstance(event_type, str) or event_type not in rules.handled_types:
        return Rejection(UNKNOWN_EVENT_TYPE, "event type is not handled by this source")

    found = rules.negative_amount_field(document)
    if found:
        return Rejection(NEGATIVE_AMOUNT, f"negative amount in {found}")

    found = rules.unknown_currency_field(document)
    if found:
        return Rejection(UNKNOWN_CURRENCY, f"{found} is not an ISO-4217 code")

    return document


def validate_csv_row(
    row: Mapping[str, str | None], record_id_column: str
) -> Rejection | None:
    """The first rule a CSV record breaks, or None for a valid row."""
    record_id = (row.get(record_id_column) or "").strip()
    # str.isdigit accepts other scripts' digits and superscripts; ids are ASCII.
    if not (record_id.isascii() and record_id.isdigit()):
        return Rejection(NON_NUMERIC_RECORD_ID, f"{record_id_column} is not all digits")

    for column, value in row.items():
        if (column is not None and "\x00" in column) or (value and "\x00" in value):
            return Rejection(NULL_BYTE, f"U+0000 in column {column!r}")
    return None
