"""BusinessEvent records as the producers publish them, built inline for tests.

Only the envelope is built here; each test states the payload it cares about. Fields a
test does not name get the values a freshly read source record has: no delivery, no
trace, the event's own id as the source object.
"""

from __future__ import annotations

from typing import Any


def node(kind: str, value: str) -> dict[str, str]:
    """An identity node: a source system's record kind and its id there."""
    return {"kind": kind, "id": value}


def business_event(
    event_id: str,
    event_type: str,
    occurred_at: int,
    payload: tuple[str, dict[str, Any]],
    subject: dict[str, str],
    *,
    source_system: str,
    anchor: dict[str, str] | None = None,
    links: list[dict[str, str]] | None = None,
    emails: list[str] | None = None,
    domains: list[str] | None = None,
    source_object_id: str | None = None,
    received_at: int | None = None,
    trace_context: dict[str, str] | None = None,
    delivery: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A BusinessEvent keyed by its subject's id, received when it occurred unless
    ``received_at`` says otherwise."""
    return {
        "event_id": event_id,
        "event_type": event_type,
        "source_system": source_system,
        "source_object_id": event_id if source_object_id is None else source_object_id,
        "occurred_at": occurred_at,
        "received_at": occurred_at if received_at is None else received_at,
        "account_key": subject["id"],
        "identity": {
            "subject": subject,
            "anchor": anchor or subject,
            "explicit_links": links or [],
            "emails": emails or [],
            "domains": domains or [],
        },
        "trace_context": dict(trace_context or {}),
        "delivery": delivery,
        "payload": payload,
    }


def crm_contact(
    record_id: str,
    modified_at: int,
    name: str,
    *,
    created_at: int,
    source_object_id: str | None = None,
) -> dict[str, Any]:
    """A CRM contact snapshot without a company: its own account."""
    payload = {
        "record_id": record_id,
        "name": name,
        "email": None,
        "phone": None,
        "company_id": None,
        "created_at": created_at,
        "modified_at": modified_at,
    }
    return business_event(
        f"crm_contact:{record_id}:{modified_at}",
        "crm.contact",
        modified_at,
        ("pipeline.CrmContact", payload),
        node("crm_contact", record_id),
        source_system="crm",
        source_object_id=source_object_id,
    )


def invoice_payload(
    invoice_id: str,
    customer_id: str,
    *,
    number: str | None,
    status: str,
    subscription_id: str | None = None,
    charge_id: str | None = None,
    total: int = 1000,
    paid: int = 0,
) -> dict[str, Any]:
    """A ``pipeline.Invoice`` payload in euro cents, ``paid`` of ``total`` paid and
    nothing refunded."""
    return {
        "invoice_id": invoice_id,
        "number": number,
        "customer_id": customer_id,
        "subscription_id": subscription_id,
        "status": status,
        "charge_id": charge_id,
        "amount_total": total,
        "amount_due": total,
        "amount_paid": paid,
        "amount_remaining": total - paid,
        "currency": "eur",
        "currency_exponent": 2,
        "amount_refunded": 0,
        "payment_status": None,
    }


def refunded_charge_payload(
    charge_id: str, invoice_id: str | None, customer_id: str, *, refunded: int
) -> dict[str, Any]:
    """A ``pipeline.Charge`` payload: a captured charge of 1000 euro cents of which
    ``refunded`` went back."""
    return {
        "charge_id": charge_id,
        "invoice_id": invoice_id,
        "customer_id": customer_id,
        "amount": 1000,
        "amount_captured": 1000,
        "amount_refunded": refunded,
        "currency": "eur",
        "currency_exponent": 2,
        "status": "succeeded",
    }
