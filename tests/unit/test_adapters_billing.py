"""Stripe-shaped events mapped to business events: identity hints, payloads, times."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from producers.billing import map_stripe_event
from producers.exceptions import PayloadError


def _event(event_type: str, obj: dict[str, Any], created: int = 1728000000) -> dict:
    return {
        "id": "evt_A1",
        "type": event_type,
        "created": created,
        "data": {"object": obj},
        "pending_webhooks": 1,
    }


def _node(kind: str, node_id: str) -> dict[str, str]:
    return {"kind": kind, "id": node_id}


def test_customer_with_metadata_and_email() -> None:
    customer = {
        "id": "cus_X",
        "name": "Acme Ltd",
        "email": " Billing@Acme.Example ",
        "metadata": {"crm_company_id": "777"},
        "unused": {"nested": True},
    }
    mapped = map_stripe_event(_event("customer.created", customer))
    hints = mapped.identity.as_record()
    assert hints["subject"] == hints["anchor"] == _node("billing_customer", "cus_X")
    assert hints["explicit_links"] == [_node("crm_company", "777")]
    assert hints["emails"] == ["billing@acme.example"]
    assert hints["domains"] == ["acme.example"]
    assert mapped.account_key == "cus_X"
    assert mapped.event_id == "evt_A1"
    assert mapped.occurred_at == datetime(2024, 10, 4, 0, 0, tzinfo=UTC)
    assert mapped.payload_schema == "pipeline.BillingCustomer"
    assert mapped.payload["email"] == "billing@acme.example"
    assert mapped.payload["crm_company_id"] == "777"


def test_customer_without_email_or_metadata_has_no_hints() -> None:
    mapped = map_stripe_event(
        _event("customer.updated", {"id": "cus_Y", "email": None})
    )
    hints = mapped.identity.as_record()
    assert hints["explicit_links"] == [] and hints["emails"] == []
    assert hints["domains"] == []


def test_subscription_takes_price_and_quantity_from_its_item() -> None:
    subscription = {
        "id": "sub_1",
        "customer": "cus_X",
        "status": "active",
        "currency": "jpy",
        "cancel_at_period_end": True,
        "items": {
            "data": [
                {
                    "quantity": 7,
                    "price": {
                        "id": "price_1",
                        "lookup_key": "growth",
                        "product": "prod_1",
                        "unit_amount": 900,
                        "recurring": {"interval": "month"},
                    },
                }
            ]
        },
    }
    mapped = map_stripe_event(_event("customer.subscription.updated", subscription))
    assert mapped.identity.subject.id == "cus_X"
    assert mapped.source_object_id == "sub_1"
    assert mapped.payload == {
        "subscription_id": "sub_1",
        "customer_id": "cus_X",
        "status": "active",
        "price_id": "price_1",
        "price_lookup_key": "growth",
        "product_id": "prod_1",
        "unit_amount": 900,
        "currency": "jpy",
        "currency_exponent": 0,
        "interval": "month",
        "quantity": 7,
        "cancel_at_period_end": True,
    }


def test_invoice_keeps_negative_total_and_null_number() -> None:
    invoice = {
        "id": "in_1",
        "number": None,
        "customer": "cus_X",
        "subscription": "sub_1",
        "status": "draft",
        "charge": None,
        "total": -1200,
        "subtotal": -1200,
        "amount_due": 0,
        "amount_paid": 0,
        "amount_remaining": 0,
        "currency": "EUR",
    }
    mapped = map_stripe_event(_event("invoice.created", invoice))
    assert mapped.account_key == "cus_X"
    assert mapped.identity.explicit_links == ()
    assert mapped.payload["amount_total"] == -1200
    assert mapped.payload["number"] is None
    assert mapped.payload["currency"] == "eur"
    assert mapped.payload["currency_exponent"] == 2


def test_charge_refund() -> None:
    charge = {
        "id": "ch_1",
        "invoice": "in_1",
        "customer": "cus_X",
        "amount": 10000,
        "amount_captured": 10000,
        "amount_refunded": 10000,
        "currency": "gbp",
        "status": "succeeded",
    }
    mapped = map_stripe_event(_event("charge.refunded", charge))
    assert mapped.payload_schema == "pipeline.Charge"
    assert mapped.payload["amount_refunded"] == 10000
    assert mapped.account_key == "cus_X"


@pytest.mark.parametrize(
    ("event_type", "obj"),
    [
        ("invoice.paid", {"id": "in_1", "status": "paid", "currency": "eur"}),
        ("customer.subscription.created", {"id": "sub_1", "status": "active"}),
        (
            "charge.refunded",
            {
                "id": "ch_1",
                "amount": 1,
                "amount_captured": 1,
                "amount_refunded": 1,
                "currency": "eur",
            },
        ),
    ],
)
def test_missing_required_fields_are_payload_errors(event_type: str, obj: dict) -> None:
    with pytest.raises(PayloadError) as caught:
        map_stripe_event(_event(event_type, obj))
    assert caught.value.reason == "invalid_payload"


def test_missing_created_is_a_payload_error() -> None:
    document = _event("customer.created", {"id": "cus_X"})
    del document["created"]
    with pytest.raises(PayloadError):
        map_stripe_event(document)
