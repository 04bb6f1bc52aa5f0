"""Turn one decoded ``EnrichedEvent`` into the Odoo record it stands for.

This module is pure: it knows docs/odoo-mapping.md (models, external-id names, fields
and mapped selections) and nothing about how Odoo is reached. What it cannot decide
alone is left as a reference for the writer to resolve: the account partner
(``partner_field``), the currency (``currency_code``) and the country
(``country_code``).

A record kind either becomes a ``RecordPlan`` (an upsert by external id) or, for
``account_merge``, a ``MergePlan``. A record that breaks the contract raises
``UnmappableRecord``; the sink dead-letters it because retrying cannot help.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

PARTNER_MODEL = "res.partner"
SUBSCRIPTION_MODEL = "sale.order"
INVOICE_MODEL = "account.move"
USAGE_MODEL = "x_product_usage"
TICKET_MODEL = "helpdesk.ticket"

# Stripe subscription statuses -> sale.order.subscription_state.
SUBSCRIPTION_STATES = {
    "trialing": "3_progress",
    "active": "3_progress",
    "past_due": "3_progress",
    "unpaid": "3_progress",
    "paused": "4_paused",
    "canceled": "6_churn",
    "incomplete_expired": "6_churn",
    "incomplete": "1_draft",
}

# Helpdesk priorities -> helpdesk.ticket.priority. An unset priority keeps Odoo's
# default ("0"); x_priority keeps the source value so "never set" stays visible.
TICKET_PRIORITIES = {"low": "0", "normal": "1", "high": "2", "urgent": "3"}

_NOT_XMLID_CHARACTER = re.compile(r"[^A-Za-z0-9_]")


class UnmappableRecord(Exception):
    """An enriched record that cannot become an Odoo record, whatever Odoo says."""

    def __init__(self, event_id: str, reason: str) -> None:
        super().__init__(f"enriched record {event_id}: {reason}")
        self.event_id = event_id
        self.reason = reason


@dataclass(frozen=True)
class RecordPlan:
    """An upsert of one Odoo record found again by its external id."""

    model: str
    xmlid_name: str
    # The x_ field that holds the business id: how a record created without its
    # external id (crash in between) is found and adopted instead of duplicated.
    natural_key_field: str
    natural_key: str
    version: int
    values: dict[str, Any]
    # Written only when the record is created (Odoo does not let them change later).
    create_only: dict[str, Any] = field(default_factory=dict)
    # Field to fill with the account partner's id (after following merges).
    partner_field: str | None = None
    currency_code: str | None = None
    country_code: str | None = None
    # Fields left out because the record's source does not own them (see
    # sinks/field_ownership.py); "country_id" here means the country is not written.
    skipped_fields: tuple[str, ...] = ()

    @property
    def writes_country(self) -> bool:
        """Account profiles set the partner's country, unless ownership forbids it."""
        return (
            "x_profile_revision" in self.values
            and "country_id" not in self.skipped_fields
        )


@dataclass(frozen=True)
class MergePlan:
    """``absorbed_ids`` now live on as ``survivor_id``."""

    survivor_id: str
    absorbed_ids: tuple[str, ...]


def xmlid_name(*parts: str) -> str:
    """An external-id name: the parts joined by ``_``, other characters become ``_``."""
    return _NOT_XMLID_CHARACTER.sub("_", "_".join(parts))


def account_xmlid_name(canonical_account_id: str) -> str:
    return xmlid_name("account", canonical_account_id)


def usage_natural_key(group_id: str, day: str, event_name: str) -> str:
    """``x_name`` of a usage row: unique per workspace, UTC day and event name."""
    return f"{group_id}/{day}/{event_name}"


def plan_for(event: dict[str, Any]) -> RecordPlan | MergePlan:
    """The Odoo change one decoded ``EnrichedEvent`` asks for."""
    kind = event["record_kind"]
    if kind == "account_profile":
        return account_plan(event["account"], version=event["version"])
    payload = _payload(event)
    planners = {
        "contact": _contact_plan,
        "subscription": _subscription_plan,
        "invoice": _invoice_plan,
        "usage_daily": _usage_plan,
        "ticket": _ticket_plan,
    }
    if kind == "account_merge":
        absorbed = tuple(
            account_id
            for account_id in payload["absorbed_ids"]
            if account_id != payload["survivor_id"]
        )
        return MergePlan(payload["survivor_id"], absorbed)
    if kind not in planners:
        raise UnmappableRecord(event["event_id"], f"unknown record kind {kind!r}")
    return planners[kind](event, payload)


def account_plan(account: dict[str, Any], *, version: int) -> RecordPlan:
    """The account partner as the account context describes it.

    Used for ``account_profile`` records and to create the partner of an account whose
    profile has not reached Odoo yet (every record carries the account context).
    """
    canonical_id = account["canonical_account_id"]
    values = {
        "is_company": True,
        "name": account.get("display_name") or canonical_id,
        "vat": account.get("vat_number") or False,
        "ref": canonical_id,
        "x_canonical_account_id": canonical_id,
        "x_domain": account.get("domain") or False,
        "x_linked_to_crm": bool(account.get("linked_to_crm")),
        "x_flags": _json_list(account.get("flags")),
        "x_crm_company_ids": _json_list(account.get("crm_company_ids")),
        "x_billing_customer_ids": _json_list(account.get("billing_customer_ids")),
        "x_product_group_ids": _json_list(account.get("product_group_ids")),
        "x_helpdesk_organization_ids": _json_list(
            account.get("helpdesk_organization_ids")
        ),
        "x_contact_emails": _json_list(account.get("contact_emails")),
        "x_billing_emails": _json_list(account.get("billing_emails")),
        "x_profile_revision": account["revision"],
        "x_source_version": version,
    }
    return RecordPlan(
        model=PARTNER_MODEL,
        xmlid_name=account_xmlid_name(canonical_id),
        natural_key_field="x_canonical_account_id",
        natural_key=canonical_id,
        version=version,
        values=values,
        country_code=account.get("country_code") or None,
    )


def placeholder_account_values(canonical_id: str) -> dict[str, Any]:
    """A partner standing in for an account known only by its id (merge survivor).

    ``x_source_version`` stays unset so the account's first profile always fills it.
    """
    return {
        "is_company": True,
        "name": canonical_id,
        "ref": canonical_id,
        "x_canonical_account_id": canonical_id,
    }


def _contact_plan(event: dict[str, Any], contact: dict[str, Any]) -> RecordPlan:
    contact_id = contact["record_id"]
    return RecordPlan(
        model=PARTNER_MODEL,
        xmlid_name=xmlid_name("crm_contact", contact_id),
        natural_key_field="x_crm_contact_id",
        natural_key=contact_id,
        version=event["version"],
        values={
            "is_company": False,
            "type": "contact",
            "name": contact["name"],
            "email": contact.get("email") or False,
            "phone": contact.get("phone") or False,
            "x_crm_contact_id": contact_id,
            "x_source_version": event["version"],
        },
        partner_field="parent_id",
    )


def _subscription_plan(
    event: dict[str, Any], subscription: dict[str, Any]
) -> RecordPlan:
    subscription_id = subscription["subscription_id"]
    status = subscription["status"]
    if status not in SUBSCRIPTION_STATES:
        raise UnmappableRecord(
            event["event_id"],
            f"subscription {subscription_id} has unknown status {status!r}",
        )
    return RecordPlan(
        model=SUBSCRIPTION_MODEL,
        xmlid_name=xmlid_name("subscription", subscription_id),
        natural_key_field="x_subscription_id",
        natural_key=subscription_id,
        version=event["version"],
        values={
            "client_order_ref": subscription_id,
            "subscription_state": SUBSCRIPTION_STATES[status],
            "x_subscription_id": subscription_id,
            "x_customer_id": subscription["customer_id"],
            "x_status": status,
            "x_price_id": _or_false(subscription.get("price_id")),
            "x_price_lookup_key": _or_false(subscription.get("price_lookup_key")),
            "x_product_id": _or_false(subscription.get("product_id")),
            "x_unit_amount": _or_false(subscription.get("unit_amount")),
            "x_interval": _or_false(subscription.get("interval")),
            "x_quantity": _or_false(subscription.get("quantity")),
            "x_cancel_at_period_end": bool(subscription.get("cancel_at_period_end")),
            "x_source_version": event["version"],
        },
        create_only={"is_subscription": True},
        partner_field="partner_id",
        currency_code=subscription["currency"],
    )


def _invoice_plan(event: dict[str, Any], invoice: dict[str, Any]) -> RecordPlan:
    invoice_id = invoice["invoice_id"]
    return RecordPlan(
        model=INVOICE_MODEL,
        xmlid_name=xmlid_name("invoice", invoice_id),
        natural_key_field="x_invoice_id",
        natural_key=invoice_id,
        version=event["version"],
        values={
            "payment_reference": _or_false(invoice.get("number")),
            "x_invoice_id": invoice_id,
            "x_number": _or_false(invoice.get("number")),
            "x_customer_id": invoice["customer_id"],
            "x_subscription_id": _or_false(invoice.get("subscription_id")),
            "x_status": invoice["status"],
            "x_payment_status": _or_false(invoice.get("payment_status")),
            "x_amount_total": invoice["amount_total"],
            "x_amount_paid": invoice["amount_paid"],
            "x_amount_refunded": invoice.get("amount_refunded") or 0,
            "x_source_version": event["version"],
        },
        create_only={"move_type": "out_invoice"},
        partner_field="partner_id",
        currency_code=invoice["currency"],
    )


def _usage_plan(event: dict[str, Any], usage: dict[str, Any]) -> RecordPlan:
    group_id, day, event_name = usage["group_id"], usage["day"], usage["event_name"]
    return RecordPlan(
        model=USAGE_MODEL,
        xmlid_name=xmlid_name("usage", group_id, day, event_name),
        natural_key_field="x_name",
        natural_key=usage_natural_key(group_id, day, event_name),
        version=event["version"],
        values={
            "x_name": usage_natural_key(group_id, day, event_name),
            "x_group_id": group_id,
            "x_day": day,
            "x_event": event_name,
            "x_count": usage["count"],
            "x_quantity": usage["quantity"],
            "x_source_version": event["version"],
        },
        partner_field="x_partner_id",
    )


def _ticket_plan(event: dict[str, Any], ticket: dict[str, Any]) -> RecordPlan:
    ticket_id = ticket["ticket_id"]
    priority = ticket.get("priority")
    if priority is not None and priority not in TICKET_PRIORITIES:
        raise UnmappableRecord(
            event["event_id"], f"ticket {ticket_id} has unknown priority {priority!r}"
        )
    values: dict[str, Any] = {
        # helpdesk.ticket.name is required; a ticket without a subject shows its id.
        "name": ticket.get("subject") or ticket_id,
        "x_ticket_id": ticket_id,
        "x_status": _or_false(ticket.get("status")),
        "x_priority": _or_false(priority),
        "x_source_version": event["version"],
    }
    values["priority"] = TICKET_PRIORITIES[priority] if priority else "0"
    return RecordPlan(
        model=TICKET_MODEL,
        xmlid_name=xmlid_name("ticket", ticket_id),
        natural_key_field="x_ticket_id",
        natural_key=ticket_id,
        version=event["version"],
        values=values,
        partner_field="partner_id",
    )


def _payload(event: dict[str, Any]) -> dict[str, Any]:
    """The payload record; the Avro codec hands unions over as (name, value)."""
    payload = event.get("payload")
    if isinstance(payload, tuple):
        payload = payload[1]
    if not isinstance(payload, dict):
        raise UnmappableRecord(
            event["event_id"], f"{event['record_kind']} record without a payload"
        )
    return payload


def _json_list(values: list[str] | None) -> str:
    return json.dumps(list(values or []), ensure_ascii=False)


def _or_false(value: Any) -> Any:
    """Odoo's "unset" is ``False``, never ``None``."""
    return False if value is None else value
