"""EnrichedEvent -> Odoo values, as docs/odoo-mapping.md specifies them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from sinks.record_mapping import (
    MergePlan,
    RecordPlan,
    UnmappableRecord,
    plan_for,
    xmlid_name,
)


def account_context(canonical_id: str = "acc-1", **changes: Any) -> dict[str, Any]:
    context = {
        "canonical_account_id": canonical_id,
        "revision": 3,
        "display_name": "Example Org",
        "domain": "org.example",
        "country_code": "no",
        "vat_number": "EU000000099",
        "linked_to_crm": True,
        "flags": [],
        "crm_company_ids": ["101"],
        "billing_customer_ids": ["cus_A"],
        "product_group_ids": ["ws_A"],
        "helpdesk_organization_ids": ["900"],
        "contact_emails": ["a@org.example"],
        "billing_emails": ["billing@org.example"],
    }
    return context | changes


def enriched(
    kind: str,
    payload: tuple[str, dict[str, Any]] | None = None,
    *,
    version: int = 10,
    canonical_id: str = "acc-1",
    record_id: str = "r-1",
) -> dict[str, Any]:
    return {
        "canonical_account_id": canonical_id,
        "record_kind": kind,
        "record_id": record_id,
        "version": version,
        "event_id": f"ev-{kind}-{version}",
        "event_type": "test",
        "source_system": "billing",
        "occurred_at": datetime(2024, 1, 2, tzinfo=UTC),
        "account": account_context(canonical_id),
        "trace_context": {},
        "payload": payload,
    }


def subscription(status: str = "active", **changes: Any) -> dict[str, Any]:
    return {
        "subscription_id": "sub_X",
        "customer_id": "cus_A",
        "status": status,
        "price_id": "price_1",
        "price_lookup_key": None,
        "product_id": "prod_1",
        "unit_amount": 1999,
        "currency": "eur",
        "currency_exponent": 2,
        "interval": "month",
        "quantity": 4,
        "cancel_at_period_end": False,
    } | changes


def invoice(**changes: Any) -> dict[str, Any]:
    return {
        "invoice_id": "in_X",
        "number": None,
        "customer_id": "cus_A",
        "subscription_id": "sub_X",
        "status": "open",
        "charge_id": None,
        "amount_total": 5000,
        "amount_due": 5000,
        "amount_paid": 0,
        "amount_remaining": 5000,
        "currency": "gbp",
        "currency_exponent": 2,
        "amount_refunded": 0,
        "payment_status": "not_paid",
    } | changes


def ticket(priority: str | None = "urgent", **changes: Any) -> dict[str, Any]:
    return {
        "ticket_id": "77",
        "subject": "Cannot log in",
        "status": "open",
        "priority": priority,
        "organization_id": None,
        "requester_id": "5",
    } | changes


def test_account_profile_becomes_company_partner_with_json_lists() -> None:
    plan = plan_for(enriched("account_profile", version=3))

    assert isinstance(plan, RecordPlan)
    assert (plan.model, plan.xmlid_name) == ("res.partner", "account_acc_1")
    assert plan.natural_key_field == "x_canonical_account_id"
    values = plan.values
    assert values["is_company"] is True
    assert values["name"] == "Example Org"
    assert values["vat"] == "EU000000099"
    assert values["ref"] == values["x_canonical_account_id"] == "acc-1"
    assert values["x_domain"] == "org.example"
    assert values["x_linked_to_crm"] is True
    assert json.loads(values["x_flags"]) == []
    assert json.loads(values["x_billing_customer_ids"]) == ["cus_A"]
    assert json.loads(values["x_contact_emails"]) == ["a@org.example"]
    assert values["x_profile_revision"] == 3
    assert values["x_source_version"] == 3
    assert plan.country_code == "no"
    assert plan.partner_field is None


def test_account_without_name_or_vat_uses_id_and_false() -> None:
    event = enriched("account_profile")
    event["account"] = account_context(display_name=None, vat_number=None, domain=None)

    values = plan_for(event).values  # type: ignore[union-attr]

    assert values["name"] == "acc-1"
    assert values["vat"] is False
    assert values["x_domain"] is False


def test_contact_becomes_child_partner() -> None:
    contact = {
        "record_id": "555",
        "name": "Ann Example",
        "email": None,
        "phone": "+1 555-0100",
        "company_id": "101",
        "created_at": datetime(2024, 1, 1, tzinfo=UTC),
        "modified_at": datetime(2024, 1, 1, tzinfo=UTC),
    }
    plan = plan_for(enriched("contact", ("pipeline.CrmContact", contact)))

    assert isinstance(plan, RecordPlan)
    assert (plan.model, plan.xmlid_name) == ("res.partner", "crm_contact_555")
    assert plan.partner_field == "parent_id"
    assert plan.values["type"] == "contact"
    assert plan.values["is_company"] is False
    assert plan.values["email"] is False
    assert plan.values["phone"] == "+1 555-0100"
    assert plan.values["x_crm_contact_id"] == "555"


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("trialing", "3_progress"),
        ("active", "3_progress"),
        ("past_due", "3_progress"),
        ("unpaid", "3_progress"),
        ("paused", "4_paused"),
        ("canceled", "6_churn"),
        ("incomplete_expired", "6_churn"),
        ("incomplete", "1_draft"),
    ],
)
def test_subscription_status_maps_to_subscription_state(
    status: str, state: str
) -> None:
    plan = plan_for(
        enriched("subscription", ("pipeline.Subscription", subscription(status)))
    )

    assert isinstance(plan, RecordPlan)
    assert plan.values["subscription_state"] == state
    assert plan.values["x_status"] == status


def test_subscription_fields() -> None:
    plan = plan_for(enriched("subscription", ("pipeline.Subscription", subscription())))

    assert isinstance(plan, RecordPlan)
    assert (plan.model, plan.xmlid_name) == ("sale.order", "subscription_sub_X")
    assert plan.create_only == {"is_subscription": True}
    assert plan.currency_code == "eur"
    assert plan.partner_field == "partner_id"
    assert plan.values["client_order_ref"] == "sub_X"
    assert plan.values["x_unit_amount"] == 1999
    assert plan.values["x_quantity"] == 4
    assert plan.values["x_price_lookup_key"] is False
    assert plan.values["x_cancel_at_period_end"] is False


def test_unknown_subscription_status_is_unmappable() -> None:
    event = enriched("subscription", ("pipeline.Subscription", subscription("weird")))

    with pytest.raises(UnmappableRecord, match="weird"):
        plan_for(event)


def test_invoice_becomes_out_invoice_with_source_figures() -> None:
    payload = invoice(
        number="ABC-0001",
        status="paid",
        amount_paid=5000,
        amount_refunded=2000,
        payment_status="partially_refunded",
    )
    plan = plan_for(enriched("invoice", ("pipeline.Invoice", payload)))

    assert isinstance(plan, RecordPlan)
    assert (plan.model, plan.xmlid_name) == ("account.move", "invoice_in_X")
    assert plan.create_only == {"move_type": "out_invoice"}
    assert plan.currency_code == "gbp"
    values = plan.values
    assert values["payment_reference"] == values["x_number"] == "ABC-0001"
    assert values["x_status"] == "paid"
    assert values["x_payment_status"] == "partially_refunded"
    assert values["x_amount_total"] == 5000
    assert values["x_amount_paid"] == 5000
    assert values["x_amount_refunded"] == 2000
    assert "amount_total" not in values and "payment_state" not in values


def test_draft_invoice_without_number_writes_false() -> None:
    plan = plan_for(enriched("invoice", ("pipeline.Invoice", invoice())))

    assert plan.values["x_number"] is False  # type: ignore[union-attr]
    assert plan.values["payment_reference"] is False  # type: ignore[union-attr]


def test_usage_external_id_keeps_only_safe_characters() -> None:
    usage = {
        "group_id": "ws-9",
        "day": "2024-10-31",
        "event_name": "API Calls Metered",
        "count": 2,
        "quantity": 300,
    }
    plan = plan_for(enriched("usage_daily", ("pipeline.UsageDaily", usage)))

    assert isinstance(plan, RecordPlan)
    assert plan.model == "x_product_usage"
    assert plan.xmlid_name == "usage_ws_9_2024_10_31_API_Calls_Metered"
    assert plan.partner_field == "x_partner_id"
    assert plan.natural_key_field == "x_name"
    assert plan.values["x_name"] == plan.natural_key
    assert plan.values["x_day"] == "2024-10-31"
    assert plan.values["x_event"] == "API Calls Metered"
    assert (plan.values["x_count"], plan.values["x_quantity"]) == (2, 300)


@pytest.mark.parametrize(
    ("priority", "odoo_priority"),
    [("low", "0"), ("normal", "1"), ("high", "2"), ("urgent", "3")],
)
def test_ticket_priority_maps(priority: str, odoo_priority: str) -> None:
    plan = plan_for(enriched("ticket", ("pipeline.Ticket", ticket(priority))))

    assert isinstance(plan, RecordPlan)
    assert (plan.model, plan.xmlid_name) == ("helpdesk.ticket", "ticket_77")
    assert plan.values["name"] == "Cannot log in"
    assert plan.values["priority"] == odoo_priority
    assert plan.values["x_priority"] == priority
    assert plan.values["x_status"] == "open"


def test_ticket_priority_never_set_stays_empty_in_x_priority() -> None:
    plan = plan_for(enriched("ticket", ("pipeline.Ticket", ticket(None))))

    assert plan.values["x_priority"] is False  # type: ignore[union-attr]
    assert plan.values["priority"] == "0"  # type: ignore[union-attr]


def test_merge_becomes_merge_plan_without_the_survivor_itself() -> None:
    merge = {"survivor_id": "acc-1", "absorbed_ids": ["acc-2", "acc-1"], "reason": "x"}
    plan = plan_for(
        enriched(
            "account_merge", ("pipeline.AccountMerge", merge), canonical_id="acc-2"
        )
    )

    assert plan == MergePlan("acc-1", ("acc-2",))


def test_record_without_payload_is_unmappable() -> None:
    with pytest.raises(UnmappableRecord, match="without a payload"):
        plan_for(enriched("invoice", None))


def test_xmlid_name_replaces_every_unsafe_character() -> None:
    assert xmlid_name("usage", "a.b/c", "é x") == "usage_a_b_c___x"
