"""Billing adapter: Stripe-shaped webhook events to business events.

Every handled event carries a full snapshot of its object in ``data.object``; the adapter
maps that snapshot and leaves ordering by ``created`` to the processors.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from producers.business_event import (
    BILLING_CUSTOMER,
    CRM_COMPANY,
    IdentityHints,
    MappedEvent,
    NodeRef,
    identity_hints,
)
from producers.exceptions import PayloadError
from producers.identifiers import email_domain, normalize_email
from producers.money import currency_exponent, normalize_currency
from producers.source_model import (
    OptionalSourceId,
    OptionalText,
    SourceModel,
    UnixTimestamp,
    parse_payload,
)
from producers.validation import INVALID_PAYLOAD

SOURCE_SYSTEM = "billing"


class StripeEventData(SourceModel):
    object: dict[str, Any]


class StripeEvent(SourceModel):
    id: str
    type: str
    created: UnixTimestamp
    data: StripeEventData


class StripeCustomerMetadata(SourceModel):
    crm_company_id: OptionalSourceId = None


class StripeCustomer(SourceModel):
    id: str
    name: OptionalText = None
    email: OptionalText = None
    metadata: StripeCustomerMetadata = Field(default_factory=StripeCustomerMetadata)
    deleted: bool = False


class StripeRecurring(SourceModel):
    interval: str | None = None


class StripePrice(SourceModel):
    id: str | None = None
    lookup_key: str | None = None
    product: str | None = None
    unit_amount: int | None = None
    recurring: StripeRecurring | None = None


class StripeSubscriptionItem(SourceModel):
    price: StripePrice | None = None
    quantity: int | None = None


class StripeSubscriptionItems(SourceModel):
    data: list[StripeSubscriptionItem] = Field(default_factory=list)


class StripeSubscription(SourceModel):
    id: str
    customer: str
    status: str
    currency: str
    quantity: int | None = None
    cancel_at_period_end: bool = False
    items: StripeSubscriptionItems = Field(default_factory=StripeSubscriptionItems)


class StripeInvoice(SourceModel):
    id: str
    number: OptionalText = None
    customer: str
    subscription: str | None = None
    status: str
    charge: str | None = None
    total: int
    amount_due: int
    amount_paid: int
    amount_remaining: int
    currency: str


class StripeCharge(SourceModel):
    id: str
    invoice: str | None = None
    customer: str | None = None
    amount: int
    amount_captured: int
    amount_refunded: int
    currency: str
    status: str | None = None


def _customer_node(customer_id: str) -> NodeRef:
    return NodeRef(BILLING_CUSTOMER, customer_id)


def _billing_event(
    event: StripeEvent,
    object_id: str,
    identity: IdentityHints,
    payload_schema: str,
    payload: dict[str, Any],
) -> MappedEvent:
    """The business event for one Stripe object snapshot.

    Every Stripe event type shares its envelope: the Stripe event's own id, type and
    ``created`` time; only the object, its identity and its payload differ.
    """
    return MappedEvent(
        event_id=event.id,
        event_type=event.type,
        source_system=SOURCE_SYSTEM,
        source_object_id=object_id,
        occurred_at=event.created,
        identity=identity,
        payload_schema=payload_schema,
        payload=payload,
    )


def _customer_event(event: StripeEvent) -> MappedEvent:
    customer = parse_payload(StripeCustomer, event.data.object, f"event {event.id}")
    crm_company_id = customer.metadata.crm_company_id
    email = normalize_email(customer.email)
    subject = _customer_node(customer.id)
    return _billing_event(
        event,
        object_id=customer.id,
        identity=identity_hints(
            subject,
            links=(NodeRef(CRM_COMPANY, crm_company_id) if crm_company_id else None,),
            emails=(email,),
            domains=(email_domain(email),),
        ),
        payload_schema="pipeline.BillingCustomer",
        payload={
            "customer_id": customer.id,
            "name": customer.name,
            "email": email,
            "crm_company_id": crm_company_id,
            "deleted": customer.deleted,
        },
    )


def _subscription_event(event: StripeEvent) -> MappedEvent:
    subscription = parse_payload(
        StripeSubscription, event.data.object, f"event {event.id}"
    )
    # The pipeline sells one per-seat price per subscription; the first item is it.
    item = subscription.items.data[0] if subscription.items.data else None
    price = item.price if item and item.price else StripePrice()
    quantity = item.quantity if item and item.quantity is not None else None
    return _billing_event(
        event,
        object_id=subscription.id,
        identity=identity_hints(_customer_node(subscription.customer)),
        payload_schema="pipeline.Subscription",
        payload={
            "subscription_id": subscription.id,
            "customer_id": subscription.customer,
            "status": subscription.status,
            "price_id": price.id,
            "price_lookup_key": price.lookup_key,
            "product_id": price.product,
            "unit_amount": price.unit_amount,
            "currency": normalize_currency(subscription.currency),
            "currency_exponent": currency_exponent(subscription.currency),
            "interval": price.recurring.interval if price.recurring else None,
            "quantity": quantity if quantity is not None else subscription.quantity,
            "cancel_at_period_end": subscription.cancel_at_period_end,
        },
    )


def _invoice_event(event: StripeEvent) -> MappedEvent:
    invoice = parse_payload(StripeInvoice, event.data.object, f"event {event.id}")
    return _billing_event(
        event,
        object_id=invoice.id,
        identity=identity_hints(_customer_node(invoice.customer)),
        payload_schema="pipeline.Invoice",
        payload={
            "invoice_id": invoice.id,
            "number": invoice.number,
            "customer_id": invoice.customer,
            "subscription_id": invoice.subscription,
            "status": invoice.status,
            "charge_id": invoice.charge,
            "amount_total": invoice.total,
            "amount_due": invoice.amount_due,
            "amount_paid": invoice.amount_paid,
            "amount_remaining": invoice.amount_remaining,
            "currency": normalize_currency(invoice.currency),
            "currency_exponent": currency_exponent(invoice.currency),
            # Refunds arrive as charge events; the processors add them up.
            "amount_refunded": 0,
            "payment_status": None,
        },
    )


def _charge_event(event: StripeEvent) -> MappedEvent:
    charge = parse_payload(StripeCharge, event.data.object, f"event {event.id}")
    if charge.customer is None:
        # A guest charge has no account to belong to.
        raise PayloadError(INVALID_PAYLOAD, f"event {event.id}: charge has no customer")
    return _billing_event(
        event,
        object_id=charge.id,
        identity=identity_hints(_customer_node(charge.customer)),
        payload_schema="pipeline.Charge",
        payload={
            "charge_id": charge.id,
            "invoice_id": charge.invoice,
            "customer_id": charge.customer,
            "amount": charge.amount,
            "amount_captured": charge.amount_captured,
            "amount_refunded": charge.amount_refunded,
            "currency": normalize_currency(charge.currency),
            "currency_exponent": currency_exponent(charge.currency),
            "status": charge.status,
        },
    )


def map_stripe_event(document: dict[str, Any]) -> MappedEvent:
    """Map a validated Stripe event; raises PayloadError when required fields lack."""
    event = parse_payload(StripeEvent, document, "Stripe event")
    if event.type.startswith("customer.subscription."):
        return _subscription_event(event)
    if event.type.startswith("customer."):
        return _customer_event(event)
    if event.type.startswith("invoice."):
        return _invoice_event(event)
    if event.type.startswith("charge."):
        return _charge_event(event)
    raise PayloadError(INVALID_PAYLOAD, f"event {event.id}: no mapping for its type")
