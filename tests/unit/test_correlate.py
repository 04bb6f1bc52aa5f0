"""Record versions, invoice payment state, usage aggregates, account context and the
correlator that combines them, on small event histories built inline."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from pipeline.settings import ProcessorSettings
from processors.account_profile import NO_CRM_MATCH
from processors.correlate import (
    ENRICHED,
    LATE,
    Correlator,
    CorrelatorStores,
)
from processors.invoice_payment import payment_status
from processors.record_versions import (
    Applied,
    NotApplied,
    RecordVersions,
    Replayed,
    ordering_key,
)
from processors.usage import BeyondGrace, UsageAggregates, UsageTotals
from tests.support.business_events import (
    business_event,
    invoice_payload,
    node,
    refunded_charge_payload,
)

SECOND = 1_000_000
# Every event arrives inside a trace; the enriched records must continue it.
TRACE_CONTEXT = {"traceparent": f"00-{'1' * 32}-{'2' * 16}-01"}


def at(text: str) -> int:
    moment = datetime.fromisoformat(text).replace(tzinfo=UTC)
    return int(moment.timestamp()) * SECOND + moment.microsecond


def company_row(record_id: str, name: str, created: int, modified: int) -> dict:
    payload = {
        "record_id": record_id,
        "name": name,
        "domain": f"{record_id}.example",
        "country_code": "DE",
        "vat_number": f"VAT{record_id}",
        "created_at": created,
        "modified_at": modified,
    }
    return business_event(
        f"crm_company:{record_id}:{modified}",
        "crm.company",
        modified,
        ("pipeline.CrmCompany", payload),
        node("crm_company", record_id),
        domains=[payload["domain"]],
        source_system="crm",
        trace_context=TRACE_CONTEXT,
    )


def customer_event(
    event_id: str, occurred: int, email: str | None, name: str = "Cust", company=None
) -> dict:
    payload = {
        "customer_id": "cus_1",
        "name": name,
        "email": email,
        "crm_company_id": company,
        "deleted": False,
    }
    return business_event(
        event_id,
        "customer.updated",
        occurred,
        ("pipeline.BillingCustomer", payload),
        node("billing_customer", "cus_1"),
        links=[node("crm_company", company)] if company else [],
        emails=[email] if email else [],
        source_system="billing",
        trace_context=TRACE_CONTEXT,
    )


def invoice_event(
    event_id: str,
    event_type: str,
    occurred: int,
    status: str,
    amount_paid: int = 0,
    total: int = 1000,
) -> dict:
    payload = invoice_payload(
        "in_1",
        "cus_1",
        number=None if status == "draft" else "INV-1",
        status=status,
        subscription_id="sub_1",
        charge_id="ch_1",
        total=total,
        paid=amount_paid,
    )
    return business_event(
        event_id,
        event_type,
        occurred,
        ("pipeline.Invoice", payload),
        node("billing_customer", "cus_1"),
        source_system="billing",
        trace_context=TRACE_CONTEXT,
    )


def refund_event(event_id: str, occurred: int, refunded: int) -> dict:
    payload = refunded_charge_payload("ch_1", "in_1", "cus_1", refunded=refunded)
    return business_event(
        event_id,
        "charge.refunded",
        occurred,
        ("pipeline.Charge", payload),
        node("billing_customer", "cus_1"),
        source_system="billing",
        trace_context=TRACE_CONTEXT,
    )


def track_event(message_id: str, occurred: int, calls: int, group: str = "ws_1"):
    payload = {
        "message_id": message_id,
        "group_id": group,
        "user_id": "u_1",
        "event_name": "API Calls Metered",
        "quantity": calls,
        "day": "ignored",
    }
    return business_event(
        message_id,
        "track",
        occurred,
        ("pipeline.UsageEvent", payload),
        node("product_group", group),
        source_system="product",
        trace_context=TRACE_CONTEXT,
    )


def correlator() -> Correlator:
    return Correlator(CorrelatorStores.in_memory(), ProcessorSettings())


def records(outputs, kind: str) -> list[dict[str, Any]]:
    return [
        r for role, _, r in outputs if role == ENRICHED and r["record_kind"] == kind
    ]


def late_events(outputs) -> list[dict[str, Any]]:
    return [r for role, _, r in outputs if role == LATE]


# -- record versions -------------------------------------------------------------------


def test_older_snapshot_is_not_applied() -> None:
    versions = RecordVersions({})
    versions.offer("subscription:s", ordering_key(20, "updated", "e2"), {"q": 3}, "a")

    decision = versions.offer(
        "subscription:s", ordering_key(10, "created", "e1"), {"q": 1}, "a"
    )

    assert isinstance(decision, NotApplied)
    assert versions.current("subscription:s")["state"] == {"q": 3}


def test_same_snapshot_again_is_a_replay_with_the_same_version() -> None:
    versions = RecordVersions({})
    first = versions.offer("ticket:1", ordering_key(10, "x", "e1"), {"s": 1}, "a")

    again = versions.offer("ticket:1", ordering_key(10, "x", "e1"), {"s": 1}, "a")

    assert isinstance(first, Applied)
    assert isinstance(again, Replayed)
    assert again.version == first.version


def test_invoice_status_never_moves_backwards() -> None:
    versions = RecordVersions({})
    versions.offer(
        "invoice:i",
        ordering_key(10, "paid", "e1", 2),
        {"status": "paid"},
        "a",
        status_rank=2,
    )

    decision = versions.offer(
        "invoice:i", ordering_key(20, "x", "e2", 1), {"status": "open"}, "a", 1
    )

    assert isinstance(decision, NotApplied)
    assert "backwards" in decision.reason


def test_same_second_invoice_snapshots_order_by_status() -> None:
    c = correlator()
    c.process(invoice_event("e_paid", "invoice.paid", 100 * SECOND, "paid", 1000))

    outputs = c.process(
        invoice_event("e_open", "invoice.finalized", 100 * SECOND, "open")
    )

    assert records(outputs, "invoice") == []
    assert len(late_events(outputs)) == 1


def test_republished_version_strictly_increases() -> None:
    versions = RecordVersions({})
    applied = versions.offer("invoice:i", ordering_key(50, "x", "e1"), {}, "a")

    republished = versions.republish("invoice:i", {"amount_refunded": 5}, 10)

    assert republished.version == applied.version + 1


# -- invoice payment state -------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "paid", "refunded", "expected"),
    [
        ("paid", 1000, 0, "paid"),
        ("paid", 0, 0, "paid"),
        ("paid", 1000, 1000, "refunded"),
        ("paid", 1000, 400, "partially_refunded"),
        ("open", 0, 0, "not_paid"),
        ("uncollectible", 0, 0, "not_paid"),
        ("void", 0, 0, "not_paid"),
    ],
)
def test_payment_status(status: str, paid: int, refunded: int, expected: str) -> None:
    assert payment_status(status, paid, refunded) == expected


def test_invoice_paid_before_created_ends_paid_with_its_number() -> None:
    c = correlator()
    c.process(invoice_event("e3", "invoice.paid", 30 * SECOND, "paid", 1000))
    late = [
        c.process(invoice_event("e1", "invoice.created", 10 * SECOND, "draft")),
        c.process(invoice_event("e2", "invoice.finalized", 20 * SECOND, "open")),
    ]

    assert all(records(o, "invoice") == [] for o in late)
    assert [e["event_id"] for o in late for e in late_events(o)] == ["e1", "e2"]
    assert all(e["reason"] for o in late for e in late_events(o))


def test_refund_after_the_invoice_republishes_it_with_a_newer_version() -> None:
    c = correlator()
    paid = records(
        c.process(invoice_event("e1", "invoice.paid", 10 * SECOND, "paid", 1000)),
        "invoice",
    )[0]

    partial = records(c.process(refund_event("r1", 20 * SECOND, 300)), "invoice")[0]
    full = records(c.process(refund_event("r2", 30 * SECOND, 1000)), "invoice")[0]
    stale = c.process(refund_event("r1_again", 25 * SECOND, 300))

    assert paid["payload"][1]["payment_status"] == "paid"
    assert partial["payload"][1]["amount_refunded"] == 300
    assert partial["payload"][1]["payment_status"] == "partially_refunded"
    assert full["payload"][1]["amount_refunded"] == 1000
    assert full["payload"][1]["payment_status"] == "refunded"
    assert paid["version"] < partial["version"] < full["version"]
    assert records(stale, "invoice") == []


def test_refund_before_the_invoice_is_applied_when_the_invoice_arrives() -> None:
    c = correlator()
    c.process(refund_event("r1", 20 * SECOND, 1000))

    outputs = c.process(invoice_event("e1", "invoice.paid", 10 * SECOND, "paid", 1000))

    invoice = records(outputs, "invoice")[0]["payload"][1]
    assert (invoice["amount_refunded"], invoice["payment_status"]) == (1000, "refunded")


# -- usage -----------------------------------------------------------------------------


def test_usage_day_is_the_utc_day_of_the_call() -> None:
    usage = UsageAggregates({})

    before = usage.count("ws", "Calls", at("2024-10-31T23:59:59.950000"), "m1", 5)
    after = usage.count("ws", "Calls", at("2024-11-01T00:00:00.120000"), "m2", 7)

    assert (before.day, before.count, before.quantity) == ("2024-10-31", 1, 5)
    assert (after.day, after.count, after.quantity) == ("2024-11-01", 1, 7)


def test_usage_counts_each_call_once() -> None:
    usage = UsageAggregates({})
    usage.count("ws", "Calls", at("2024-10-01T10:00:00"), "m1", 5)
    usage.count("ws", "Calls", at("2024-10-01T11:00:00"), "m2", 3)

    replay = usage.count("ws", "Calls", at("2024-10-01T10:00:00"), "m1", 5)

    assert (replay.count, replay.quantity, replay.version) == (2, 8, 2)
    assert replay.replayed


def test_a_late_call_within_the_grace_updates_its_day() -> None:
    usage = UsageAggregates({}, grace_days=2)
    usage.count("ws", "Calls", at("2024-10-01T10:00:00"), "m1", 5)
    usage.count("ws", "Calls", at("2024-10-03T10:00:00"), "m2", 1)

    late = usage.count("ws", "Calls", at("2024-10-01T23:00:00"), "m3", 4)

    assert isinstance(late, UsageTotals)
    assert (late.day, late.count, late.quantity, late.version) == (
        "2024-10-01",
        2,
        9,
        2,
    )


def test_a_call_beyond_the_grace_is_not_counted_and_says_why() -> None:
    usage = UsageAggregates({}, grace_days=2)
    usage.count("ws", "Calls", at("2024-10-01T10:00:00"), "m1", 5)
    usage.count("ws", "Calls", at("2024-10-04T00:00:01"), "m2", 1)

    late = usage.count("ws", "Calls", at("2024-10-01T23:00:00"), "m3", 4)

    assert isinstance(late, BeyondGrace)
    assert late.record_id == "ws/2024-10-01/Calls"
    assert "m3" in late.reason and "beyond the grace" in late.reason


def test_the_grace_is_measured_per_workspace_not_on_a_global_clock() -> None:
    usage = UsageAggregates({}, grace_days=2)
    usage.count("ws_new", "Calls", at("2024-12-01T10:00:00"), "m1", 1)

    other = usage.count("ws_old", "Calls", at("2024-10-01T10:00:00"), "m2", 1)

    assert isinstance(other, UsageTotals) and other.count == 1


def test_closed_windows_are_purged_with_their_counted_calls() -> None:
    store: dict[str, Any] = {}
    usage = UsageAggregates(store, grace_days=1)
    usage.count("ws", "Calls", at("2024-10-01T10:00:00"), "m1", 5)
    usage.count("ws", "Seats", at("2024-10-01T11:00:00"), "m2", 1)
    assert any("2024-10-01" in key for key in store)

    usage.count("ws", "Calls", at("2024-10-03T00:00:01"), "m3", 1)

    assert not any("2024-10-01" in key for key in store)
    assert store["open:ws"] == [["ws/2024-10-03/Calls", "2024-10-03"]]


def test_correlator_routes_a_call_beyond_the_grace_to_the_late_events_topic() -> None:
    c = Correlator(
        CorrelatorStores.in_memory(),
        ProcessorSettings(usage_grace_days=1),
    )
    c.process(track_event("m1", at("2024-10-05T10:00:00"), 5))

    outputs = c.process(track_event("m0", at("2024-10-01T10:00:00"), 3))

    assert records(outputs, "usage_daily") == []
    assert [(role, key) for role, key, _ in outputs] == [(LATE, "m0")]
    assert "beyond the grace" in outputs[0][2]["reason"]


def test_usage_before_its_workspace_is_known_ends_on_the_company_account() -> None:
    c = correlator()
    early = records(
        c.process(track_event("m1", at("2024-10-01T10:00:00"), 5)), "usage_daily"
    )
    company_outputs = c.process(company_row("77", "Acme", 1 * SECOND, 1 * SECOND))
    company_account = records(company_outputs, "account_profile")[0]["record_id"]

    group = business_event(
        "g1",
        "group",
        at("2024-10-01T10:01:00"),
        (
            "pipeline.ProductGroup",
            {
                "group_id": "ws_1",
                "user_id": "u_1",
                "name": "Acme",
                "website_domain": "77.example",
                "crm_company_id": None,
            },
        ),
        node("product_group", "ws_1"),
        domains=["77.example"],
        source_system="product",
        trace_context=TRACE_CONTEXT,
    )
    outputs = c.process(group)

    merges = records(outputs, "account_merge")
    workspace_account = early[0]["canonical_account_id"]
    assert early[0]["payload"][1]["count"] == 1
    # The workspace's account was published first, so it survives the join and the
    # company's account is announced as absorbed, keyed by the absorbed id.
    assert [m["payload"][1]["survivor_id"] for m in merges] == [workspace_account]
    assert [m["record_id"] for m in merges] == [company_account]
    profile = records(outputs, "account_profile")[-1]["account"]
    assert profile["crm_company_ids"] == ["77"]
    assert profile["product_group_ids"] == ["ws_1"]


# -- account context -------------------------------------------------------------------


def test_unlinked_customer_is_its_own_account_named_after_the_customer() -> None:
    c = correlator()

    outputs = c.process(customer_event("e1", 10 * SECOND, None, name="Print Co"))

    profile = records(outputs, "account_profile")[0]["account"]
    assert profile["display_name"] == "Print Co"
    assert profile["linked_to_crm"] is False
    assert profile["flags"] == [NO_CRM_MATCH]


def test_profile_is_published_only_when_it_changes() -> None:
    c = correlator()
    c.process(company_row("1", "Acme", 1 * SECOND, 1 * SECOND))
    first = c.process(customer_event("e1", 10 * SECOND, "ap@1.example"))

    same = c.process(customer_event("e2", 11 * SECOND, "ap@1.example"))
    changed = c.process(customer_event("e3", 12 * SECOND, "billing@1.example"))

    assert records(same, "account_profile") == []
    before = records(first, "account_profile")[-1]["account"]
    after = records(changed, "account_profile")[0]["account"]
    assert after["revision"] == before["revision"] + 1
    assert after["billing_emails"] == ["billing@1.example"]


def test_display_name_is_the_latest_name_of_the_earliest_created_company() -> None:
    c = correlator()
    c.process(company_row("2", "Younger Ltd", 5 * SECOND, 5 * SECOND))
    c.process(company_row("1", "Older AG", 1 * SECOND, 1 * SECOND))
    c.process(company_row("1", "Older Renamed AG", 1 * SECOND, 9 * SECOND))
    c.process(company_row("1", "Stale Name AG", 1 * SECOND, 3 * SECOND))

    outputs = c.process(
        customer_event("e1", 10 * SECOND, None, company="1")
        | {
            "identity": {
                "subject": node("billing_customer", "cus_1"),
                "anchor": node("billing_customer", "cus_1"),
                "explicit_links": [node("crm_company", "1"), node("crm_company", "2")],
                "emails": [],
                "domains": [],
            }
        }
    )

    profile = records(outputs, "account_profile")[-1]["account"]
    assert profile["display_name"] == "Older Renamed AG"
    assert profile["crm_company_ids"] == ["1", "2"]
    assert profile["vat_number"] == "VAT1"


def test_enriched_records_carry_account_context_and_trace_context() -> None:
    c = correlator()

    outputs = c.process(invoice_event("e1", "invoice.paid", 10 * SECOND, "paid", 1000))

    ((role, key, invoice),) = [o for o in outputs if o[2]["record_kind"] == "invoice"]
    assert (
        key
        == invoice["canonical_account_id"]
        == invoice["account"]["canonical_account_id"]
    )
    assert invoice["trace_context"]["traceparent"].startswith("00-")
    assert invoice["account"]["billing_customer_ids"] == ["cus_1"]
