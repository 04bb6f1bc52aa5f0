"""Read the business end state back out of Odoo, one view per active account partner.

The views have the shape of the ``accounts[]`` items of a corpus's ``expected.json``
(field names, ``null`` for unset values, lowercase currencies, lists sorted), so a
checker can compare what Odoo holds with what the sources say it should hold. This
module only reads Odoo: it knows the field mapping of docs/odoo-mapping.md and nothing
about any corpus.

Account partners are ``res.partner`` companies with an ``x_canonical_account_id``;
archived ones (absorbed by a merge) are left out, and their records were re-pointed to
the survivor, so they show up under it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sinks.record_mapping import (
    INVOICE_MODEL,
    PARTNER_MODEL,
    SUBSCRIPTION_MODEL,
    TICKET_MODEL,
    USAGE_MODEL,
)

if TYPE_CHECKING:
    from sinks.odoo.client import OdooClient

ACCOUNT_FIELDS = [
    "name",
    "vat",
    "country_id",
    "x_canonical_account_id",
    "x_domain",
    "x_linked_to_crm",
    "x_flags",
    "x_crm_company_ids",
    "x_billing_customer_ids",
    "x_product_group_ids",
    "x_helpdesk_organization_ids",
    "x_contact_emails",
    "x_billing_emails",
]
CONTACT_FIELDS = ["parent_id", "name", "email", "phone", "x_crm_contact_id"]
SUBSCRIPTION_FIELDS = [
    "partner_id",
    "currency_id",
    "x_subscription_id",
    "x_customer_id",
    "x_status",
    "x_price_id",
    "x_price_lookup_key",
    "x_product_id",
    "x_unit_amount",
    "x_interval",
    "x_quantity",
    "x_cancel_at_period_end",
]
INVOICE_FIELDS = [
    "partner_id",
    "currency_id",
    "x_invoice_id",
    "x_number",
    "x_customer_id",
    "x_subscription_id",
    "x_status",
    "x_payment_status",
    "x_amount_total",
    "x_amount_paid",
    "x_amount_refunded",
]
USAGE_FIELDS = ["x_partner_id", "x_day", "x_event", "x_count", "x_quantity"]
TICKET_FIELDS = ["partner_id", "name", "x_ticket_id", "x_status", "x_priority"]


# Records that hang off an account partner: model, the field pointing at the partner,
# the business id every synced record of the model carries, and the fields read.
CHILD_QUERIES = {
    "contacts": (PARTNER_MODEL, "parent_id", "x_crm_contact_id", CONTACT_FIELDS),
    "subscriptions": (
        SUBSCRIPTION_MODEL,
        "partner_id",
        "x_subscription_id",
        SUBSCRIPTION_FIELDS,
    ),
    "invoices": (INVOICE_MODEL, "partner_id", "x_invoice_id", INVOICE_FIELDS),
    "usage": (USAGE_MODEL, "x_partner_id", "x_name", USAGE_FIELDS),
    "tickets": (TICKET_MODEL, "partner_id", "x_ticket_id", TICKET_FIELDS),
}

ChildRows = dict[str, defaultdict[int, list[dict[str, Any]]]]


def read_account_views(client: OdooClient) -> list[dict[str, Any]]:
    """Every active account partner with its contacts, money, usage and tickets."""
    partners = client.search_read(
        PARTNER_MODEL,
        [("is_company", "=", True), ("x_canonical_account_id", "!=", False)],
        ACCOUNT_FIELDS,
        order="id",
    )
    children = _children_by_partner(client, [p["id"] for p in partners])
    currencies = _currency_names(
        client, [*children["subscriptions"].values(), *children["invoices"].values()]
    )
    countries = _country_codes(client, partners)
    return [
        _full_view(partner, children, currencies, countries) for partner in partners
    ]


def _children_by_partner(client: OdooClient, partner_ids: list[int]) -> ChildRows:
    """One query per child model for all accounts, grouped by account partner."""
    return {
        name: _by_partner(
            client.search_read(
                model,
                [(partner_field, "in", partner_ids), (business_id, "!=", False)],
                fields,
            ),
            partner_field,
        )
        for name, (model, partner_field, business_id, fields) in CHILD_QUERIES.items()
    }


def _full_view(
    partner: dict[str, Any],
    children: ChildRows,
    currencies: dict[int, str],
    countries: dict[int, str],
) -> dict[str, Any]:
    def rows(name: str) -> list[dict[str, Any]]:
        return children[name][partner["id"]]

    return {
        **_account_view(partner, countries),
        "contacts": sorted(
            map(_contact_view, rows("contacts")), key=lambda c: c["crm_contact_id"]
        ),
        "subscriptions": sorted(
            (_subscription_view(s, currencies) for s in rows("subscriptions")),
            key=lambda s: s["subscription_id"],
        ),
        "invoices": sorted(
            (_invoice_view(i, currencies) for i in rows("invoices")),
            key=lambda i: (i["number"] or "", i["invoice_id"]),
        ),
        "usage": _usage_view(rows("usage")),
        "tickets": sorted(
            map(_ticket_view, rows("tickets")),
            key=lambda t: (len(t["ticket_id"]), t["ticket_id"]),
        ),
    }


def _account_view(partner: dict[str, Any], countries: dict[int, str]) -> dict[str, Any]:
    country = partner["country_id"]
    return {
        "canonical_account_id": partner["x_canonical_account_id"],
        "display_name": _value(partner["name"]),
        "domain": _value(partner["x_domain"]),
        "country": countries.get(country[0]) if country else None,
        "vat_number": _value(partner["vat"]),
        "linked_to_crm": bool(partner["x_linked_to_crm"]),
        "flags": _json_list(partner["x_flags"]),
        "crm_company_ids": _json_list(partner["x_crm_company_ids"]),
        "stripe_customer_ids": _json_list(partner["x_billing_customer_ids"]),
        "segment_group_ids": _json_list(partner["x_product_group_ids"]),
        "zendesk_organization_ids": _json_list(partner["x_helpdesk_organization_ids"]),
        "contact_emails": _json_list(partner["x_contact_emails"]),
        "billing_emails": _json_list(partner["x_billing_emails"]),
    }


def _contact_view(contact: dict[str, Any]) -> dict[str, Any]:
    return {
        "crm_contact_id": contact["x_crm_contact_id"],
        "name": _value(contact["name"]),
        "email": _value(contact["email"]),
        "phone": _value(contact["phone"]),
    }


def _subscription_view(
    subscription: dict[str, Any], currencies: dict[int, str]
) -> dict[str, Any]:
    return {
        "subscription_id": subscription["x_subscription_id"],
        "customer_id": _value(subscription["x_customer_id"]),
        "price_id": _value(subscription["x_price_id"]),
        "price_lookup_key": _value(subscription["x_price_lookup_key"]),
        "product_id": _value(subscription["x_product_id"]),
        "unit_amount": _value(subscription["x_unit_amount"]),
        "currency": _currency(subscription["currency_id"], currencies),
        "interval": _value(subscription["x_interval"]),
        "quantity": _value(subscription["x_quantity"]),
        "status": _value(subscription["x_status"]),
        "cancel_at_period_end": bool(subscription["x_cancel_at_period_end"]),
    }


def _invoice_view(
    invoice: dict[str, Any], currencies: dict[int, str]
) -> dict[str, Any]:
    return {
        "invoice_id": invoice["x_invoice_id"],
        "number": _value(invoice["x_number"]),
        "customer_id": _value(invoice["x_customer_id"]),
        "subscription_id": _value(invoice["x_subscription_id"]),
        "amount_total": _integer(invoice["x_amount_total"]),
        "amount_paid": _integer(invoice["x_amount_paid"]),
        "amount_refunded": _integer(invoice["x_amount_refunded"]),
        "currency": _currency(invoice["currency_id"], currencies),
        "invoice_status": _value(invoice["x_status"]),
        "payment_status": _value(invoice["x_payment_status"]),
    }


def _usage_view(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Usage summed per UTC day and event over all of the account's workspaces."""
    totals: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0])
    for row in rows:
        total = totals[(row["x_day"], row["x_event"])]
        total[0] += _integer(row["x_count"])
        total[1] += row["x_quantity"] or 0
    return [
        {"day": day, "event": event, "count": int(count), "quantity": _number(quantity)}
        for (day, event), (count, quantity) in sorted(totals.items())
    ]


def _ticket_view(ticket: dict[str, Any]) -> dict[str, Any]:
    # helpdesk.ticket.name is required, so the writer names a ticket without a
    # subject by its id; that name reads back as "no subject".
    subject = None if ticket["name"] == ticket["x_ticket_id"] else ticket["name"]
    return {
        "ticket_id": ticket["x_ticket_id"],
        "subject": _value(subject),
        "status": _value(ticket["x_status"]),
        "priority": _value(ticket["x_priority"]),
    }


def _by_partner(
    rows: list[dict[str, Any]], field_name: str
) -> defaultdict[int, list[dict[str, Any]]]:
    grouped: defaultdict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row[field_name]:
            grouped[row[field_name][0]].append(row)
    return grouped


def _currency_names(
    client: OdooClient, groups: Iterable[list[dict[str, Any]]]
) -> dict[int, str]:
    ids = {r["currency_id"][0] for rows in groups for r in rows if r["currency_id"]}
    return _labels_by_id(client, "res.currency", ids, "name")


def _country_codes(
    client: OdooClient, partners: list[dict[str, Any]]
) -> dict[int, str]:
    ids = {p["country_id"][0] for p in partners if p["country_id"]}
    return _labels_by_id(client, "res.country", ids, "code")


def _labels_by_id(
    client: OdooClient, model: str, ids: set[int], label_field: str
) -> dict[int, str]:
    """One read for every referenced record of ``model``, none when nothing refers."""
    if not ids:
        return {}
    rows = client.read(model, sorted(ids), [label_field])
    return {row["id"]: row[label_field] for row in rows}


def _currency(reference: Any, currencies: dict[int, str]) -> str | None:
    if not reference:
        return None
    name = currencies.get(reference[0])
    return name.lower() if name else None


def _value(value: Any) -> Any:
    """Odoo reads an unset field as ``False``; the views say ``null``."""
    return None if value is False else value


def _integer(value: Any) -> int:
    return 0 if value is False or value is None else int(value)


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _json_list(text: Any) -> list[str]:
    return sorted(json.loads(text)) if text else []
