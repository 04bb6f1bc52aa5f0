"""Stripe object snapshots and event envelopes, shaped like API version 2024-06-20."""

from __future__ import annotations

from typing import Any

from loadgen.conventions import CURRENCY_SYMBOL, STRIPE_API_VERSION, Price


def price_object(price: Price) -> dict[str, Any]:
    return {
        "id": price.price_id,
        "object": "price",
        "active": True,
        "billing_scheme": "per_unit",
        "created": price.created,
        "currency": price.currency,
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": price.lookup_key,
        "metadata": {},
        "nickname": price.nickname,
        "product": price.product_id,
        "recurring": {
            "aggregate_usage": None,
            "interval": "month",
            "interval_count": 1,
            "meter": None,
            "trial_period_days": None,
            "usage_type": "licensed",
        },
        "tax_behavior": "exclusive",
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "recurring",
        "unit_amount": price.unit_amount,
        "unit_amount_decimal": str(price.unit_amount),
    }


def customer_object(
    customer_id: str,
    *,
    name: str | None,
    email: str | None,
    metadata: dict[str, str],
    invoice_prefix: str,
    created: int,
    currency: str | None,
    payment_method: str,
    locale: str,
) -> dict[str, Any]:
    return {
        "id": customer_id,
        "object": "customer",
        "address": None,
        "balance": 0,
        "created": created,
        "currency": currency,
        "default_source": None,
        "delinquent": False,
        "description": None,
        "discount": None,
        "email": email,
        "invoice_prefix": invoice_prefix,
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": payment_method,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": metadata,
        "name": name,
        "next_invoice_sequence": 1,
        "phone": None,
        "preferred_locales": [locale],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }


def subscription_object(
    subscription_id: str,
    *,
    customer_id: str,
    item_id: str,
    price: Price,
    quantity: int,
    status: str,
    created: int,
    period_start: int,
    period_end: int,
    collection_method: str,
    latest_invoice: str | None,
    cancel_at_period_end: bool = False,
    canceled_at: int | None = None,
    ended_at: int | None = None,
    trial_start: int | None = None,
    trial_end: int | None = None,
) -> dict[str, Any]:
    return {
        "id": subscription_id,
        "object": "subscription",
        "application": None,
        "billing_cycle_anchor": created,
        "cancel_at": period_end if cancel_at_period_end else None,
        "cancel_at_period_end": cancel_at_period_end,
        "canceled_at": canceled_at,
        "collection_method": collection_method,
        "created": created,
        "currency": price.currency,
        "current_period_end": period_end,
        "current_period_start": period_start,
        "customer": customer_id,
        "days_until_due": 30 if collection_method == "send_invoice" else None,
        "default_payment_method": None,
        "discount": None,
        "ended_at": ended_at,
        "items": {
            "object": "list",
            "data": [
                {
                    "id": item_id,
                    "object": "subscription_item",
                    "billing_thresholds": None,
                    "created": created,
                    "metadata": {},
                    "price": price_object(price),
                    "quantity": quantity,
                    "subscription": subscription_id,
                    "tax_rates": [],
                }
            ],
            "has_more": False,
            "total_count": 1,
            "url": f"/v1/subscription_items?subscription={subscription_id}",
        },
        "latest_invoice": latest_invoice,
        "livemode": False,
        "metadata": {},
        "plan": {
            "id": price.price_id,
            "object": "plan",
            "active": True,
            "amount": price.unit_amount,
            "currency": price.currency,
            "interval": "month",
            "interval_count": 1,
            "nickname": price.nickname,
            "product": price.product_id,
            "usage_type": "licensed",
        },
        "quantity": quantity,
        "start_date": created,
        "status": status,
        "trial_end": trial_end,
        "trial_start": trial_start,
    }


def invoice_line(
    line_id: str,
    *,
    amount: int,
    price: Price,
    quantity: int,
    description: str,
    proration: bool,
    period: tuple[int, int],
    subscription_id: str,
    item_id: str,
) -> dict[str, Any]:
    return {
        "id": line_id,
        "object": "line_item",
        "amount": amount,
        "currency": price.currency,
        "description": description,
        "discountable": not proration,
        "livemode": False,
        "metadata": {},
        "period": {"end": period[1], "start": period[0]},
        "price": price_object(price),
        "proration": proration,
        "quantity": quantity,
        "subscription": subscription_id,
        "subscription_item": item_id,
        "type": "subscription",
    }


def seat_description(quantity: int, price: Price) -> str:
    symbol = CURRENCY_SYMBOL[price.currency]
    major = f"{price.unit_amount / 100:.2f}"
    return f"{quantity} × Tallyframe {price.plan} (at {symbol}{major} / month)"


def invoice_object(
    invoice_id: str,
    *,
    customer_id: str,
    customer_email: str | None,
    customer_name: str | None,
    subscription_id: str,
    currency: str,
    lines: list[dict[str, Any]],
    created: int,
    period: tuple[int, int],
    billing_reason: str,
    collection_method: str,
    status: str,
    number: str | None,
    amount_paid: int,
    attempt_count: int,
    charge: str | None,
    payment_intent: str | None,
    finalized_at: int | None,
    paid_at: int | None,
) -> dict[str, Any]:
    total = sum(line["amount"] for line in lines)
    # A net credit is not money owed: Stripe reports amount_due 0, never negative.
    amount_due = max(total, 0)
    return {
        "id": invoice_id,
        "object": "invoice",
        "account_country": "IE",
        "account_name": "Tallyframe Ltd",
        "amount_due": amount_due,
        "amount_paid": amount_paid,
        "amount_remaining": amount_due - amount_paid,
        "attempt_count": attempt_count,
        "attempted": attempt_count > 0,
        "auto_advance": status not in ("paid", "void"),
        "billing_reason": billing_reason,
        "charge": charge,
        "collection_method": collection_method,
        "created": created,
        "currency": currency,
        "customer": customer_id,
        "customer_email": customer_email,
        "customer_name": customer_name,
        "due_date": created + 30 * 86400
        if collection_method == "send_invoice"
        else None,
        "ending_balance": None if status == "draft" else 0,
        "lines": {
            "object": "list",
            "data": lines,
            "has_more": False,
            "total_count": len(lines),
            "url": f"/v1/invoices/{invoice_id}/lines",
        },
        "livemode": False,
        "metadata": {},
        "next_payment_attempt": None,
        "number": number,
        "paid": status == "paid",
        "paid_out_of_band": False,
        "payment_intent": payment_intent,
        "period_end": period[1],
        "period_start": period[0],
        "starting_balance": 0,
        "status": status,
        "status_transitions": {
            "finalized_at": finalized_at,
            "marked_uncollectible_at": None,
            "paid_at": paid_at,
            "voided_at": None,
        },
        "subscription": subscription_id,
        "subtotal": total,
        "tax": None,
        "total": total,
    }


def charge_object(
    charge_id: str,
    *,
    customer_id: str,
    invoice_id: str,
    amount: int,
    amount_refunded: int,
    currency: str,
    created: int,
    payment_intent: str,
    payment_method: str,
    balance_transaction: str,
) -> dict[str, Any]:
    return {
        "id": charge_id,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": amount_refunded,
        "balance_transaction": balance_transaction,
        "captured": True,
        "created": created,
        "currency": currency,
        "customer": customer_id,
        "description": "Subscription update",
        "disputed": False,
        "failure_code": None,
        "failure_message": None,
        "invoice": invoice_id,
        "livemode": False,
        "metadata": {},
        "paid": True,
        "payment_intent": payment_intent,
        "payment_method": payment_method,
        "refunded": amount_refunded >= amount,
        "status": "succeeded",
    }


def event_envelope(
    event_id: str,
    *,
    event_type: str,
    created: int,
    snapshot: dict[str, Any],
    previous_attributes: dict[str, Any] | None = None,
    request_id: str | None = None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {"object": snapshot}
    if previous_attributes is not None:
        data["previous_attributes"] = previous_attributes
    return {
        "id": event_id,
        "object": "event",
        "api_version": STRIPE_API_VERSION,
        "created": created,
        "data": data,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": request_id, "idempotency_key": idempotency_key},
        "type": event_type,
    }
