"""Order independence of the processors, over random but valid event histories.

For any interleaving, duplication (a sender's redelivery), replay (the same record read
again after a crash) and delay of a history, deduplicating and correlating
the delivered events and folding the enriched records the way the sink does (newest
version per record, merges followed) must give the same accounts as processing the
history once, in event-time order. Canonical ids may differ (the survivor of a merge
depends on which account was seen first), so accounts are compared by content.
"""

from __future__ import annotations

import importlib.util
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.settings import ProcessorSettings
from processors.correlate import ENRICHED, Correlator, CorrelatorStores
from processors.dedup import DedupLedger, Duplicate

SECOND = 1_000_000
DAY = 86_400 * SECOND
T0 = 1_725_000_000 * SECOND

settings.register_profile(
    "processing",
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _sink_fold() -> Any:
    """``fold_like_the_sink`` of the offline corpus test, loaded by path (test
    directories are not packages)."""
    path = Path(__file__).with_name("test_corpus_offline.py")
    spec = importlib.util.spec_from_file_location("corpus_oracle_fold", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.fold_like_the_sink


fold_like_the_sink = _sink_fold()


@dataclass
class History:
    """Events of a few accounts, in the order they happened."""

    rng: random.Random
    events: list[dict[str, Any]] = field(default_factory=list)

    def add(
        self,
        event_id: str,
        event_type: str,
        source_system: str,
        occurred_at: int,
        subject: tuple[str, str],
        payload: tuple[str, dict[str, Any]],
        anchor: tuple[str, str] | None = None,
        links: list[tuple[str, str]] | None = None,
        emails: list[str] | None = None,
        domains: list[str] | None = None,
    ) -> None:
        position = len(self.events) + 1
        self.events.append(
            {
                "event_id": event_id,
                "event_type": event_type,
                "source_system": source_system,
                "source_object_id": event_id,
                "occurred_at": occurred_at,
                "received_at": occurred_at + SECOND,
                "account_key": subject[1],
                "identity": {
                    "subject": _node(subject),
                    "anchor": _node(anchor or subject),
                    "explicit_links": [_node(link) for link in links or []],
                    "emails": emails or [],
                    "domains": domains or [],
                },
                "trace_context": {},
                "delivery": {
                    "channel": "file",
                    "source_name": f"{source_system}/events.jsonl",
                    "position": position,
                },
                "payload": (f"pipeline.{payload[0]}", payload[1]),
            }
        )


def _node(ref: tuple[str, str]) -> dict[str, str]:
    return {"kind": ref[0], "id": ref[1]}


def build_history(seed: int, accounts: int) -> list[dict[str, Any]]:
    """A valid history: every account's events with increasing source times."""
    history = History(random.Random(seed))
    for index in range(accounts):
        _account(history, f"{seed % 10_000}x{index}", T0 + index * 3 * DAY)
    return sorted(history.events, key=lambda e: e["occurred_at"])


def _account(history: History, tag: str, start: int) -> None:
    rng = history.rng
    clock = [start]

    def tick(seconds: int | None = None) -> int:
        # Stripe has one-second resolution: same-second events must tie-break.
        clock[0] += SECOND * (
            rng.choice([0, 1, 7, 3600]) if seconds is None else seconds
        )
        return clock[0]

    domain = f"co-{tag}.example"
    company = f"9{tag.replace('x', '0')}"
    contact_emails = _crm(history, tick, tag, company, domain)
    _billing(history, tick, tag, company, domain, contact_emails)
    if rng.random() < 0.8:
        _product(history, tick, tag, company, domain)
    if rng.random() < 0.8:
        _helpdesk(history, tick, tag, company, domain, contact_emails)


def _crm(history: History, tick: Any, tag: str, company: str, domain: str) -> list[str]:
    rng = history.rng
    created = tick(60)
    for revision in range(rng.randint(1, 2)):
        modified = tick(60)
        history.add(
            f"crm_company:{company}:{modified}",
            "crm.company",
            "crm",
            modified,
            ("crm_company", company),
            (
                "CrmCompany",
                {
                    "record_id": company,
                    "name": f"Company {tag} rev {revision}",
                    "domain": domain,
                    "country_code": rng.choice(["DE", "FR", None]),
                    "vat_number": None,
                    "created_at": created,
                    "modified_at": modified,
                },
            ),
            domains=[domain],
        )
    emails = []
    for person in range(rng.randint(1, 2)):
        contact = f"{company}{person}"
        email = f"person{person}@{domain}"
        emails.append(email)
        for revision in range(rng.randint(1, 2)):
            modified = tick(60)
            history.add(
                f"crm_contact:{contact}:{modified}",
                "crm.contact",
                "crm",
                modified,
                ("crm_contact", contact),
                (
                    "CrmContact",
                    {
                        "record_id": contact,
                        "name": f"Person {person} rev {revision}",
                        "email": email,
                        "phone": f"+49 30 {revision}{person}",
                        "company_id": company,
                        "created_at": created,
                        "modified_at": modified,
                    },
                ),
                anchor=("crm_company", company),
                links=[("crm_company", company)],
                emails=[email],
            )
    return emails


def _billing(
    history: History,
    tick: Any,
    tag: str,
    company: str,
    domain: str,
    contact_emails: list[str],
) -> str | None:
    rng = history.rng
    if rng.random() < 0.15:
        return None
    customer = f"cus_{tag}"
    subject = ("billing_customer", customer)
    link = rng.choice(["metadata", "email", "free_mail"])
    email = {
        "metadata": f"billing@{domain}",
        "email": contact_emails[0],
        "free_mail": f"owner.{tag}@gmail.com",
    }[link]
    history.add(
        f"evt_cus_{tag}",
        "customer.created",
        "billing",
        tick(),
        subject,
        (
            "BillingCustomer",
            {
                "customer_id": customer,
                "name": f"Customer {tag}",
                "email": email,
                "crm_company_id": company if link == "metadata" else None,
                "deleted": False,
            },
        ),
        links=[("crm_company", company)] if link == "metadata" else [],
        emails=[email],
        domains=[email.split("@")[1]],
    )
    _subscription(history, tick, tag, customer)
    _invoice(history, tick, tag, customer)
    return customer


def _subscription(history: History, tick: Any, tag: str, customer: str) -> None:
    rng = history.rng
    steps = [("customer.subscription.created", "incomplete", 1)]
    steps += [("customer.subscription.updated", "active", q) for q in (1, 3)]
    if rng.random() < 0.3:
        steps.append(("customer.subscription.deleted", "canceled", 3))
    for number, (event_type, status, quantity) in enumerate(steps):
        history.add(
            f"evt_sub_{tag}_{number}",
            event_type,
            "billing",
            tick(),
            ("billing_customer", customer),
            (
                "Subscription",
                {
                    "subscription_id": f"sub_{tag}",
                    "customer_id": customer,
                    "status": status,
                    "price_id": "price_seat",
                    "price_lookup_key": "seat_monthly",
                    "product_id": "prod_seat",
                    "unit_amount": 1200,
                    "currency": "eur",
                    "currency_exponent": 2,
                    "interval": "month",
                    "quantity": quantity,
                    "cancel_at_period_end": status == "canceled",
                },
            ),
        )


def _invoice(history: History, tick: Any, tag: str, customer: str) -> None:
    rng = history.rng
    invoice = f"in_{tag}"
    total = rng.choice([0, 1200, 3600])
    steps = [
        ("invoice.created", "draft", None, 0),
        ("invoice.finalized", "open", f"INV-{tag}", 0),
        ("invoice.paid", "paid", f"INV-{tag}", total),
    ]
    for number, (event_type, status, invoice_number, paid) in enumerate(steps):
        history.add(
            f"evt_in_{tag}_{number}",
            event_type,
            "billing",
            tick(),
            ("billing_customer", customer),
            (
                "Invoice",
                {
                    "invoice_id": invoice,
                    "number": invoice_number,
                    "customer_id": customer,
                    "subscription_id": f"sub_{tag}",
                    "status": status,
                    "charge_id": f"ch_{tag}" if paid else None,
                    "amount_total": total,
                    "amount_due": total,
                    "amount_paid": paid,
                    "amount_remaining": total - paid,
                    "currency": "eur",
                    "currency_exponent": 2,
                    "amount_refunded": 0,
                    "payment_status": None,
                },
            ),
        )
    if not total:
        return
    refunds = [0, *sorted(rng.sample([100, 600, total], rng.randint(0, 2)))]
    for number, refunded in enumerate(refunds):
        history.add(
            f"evt_ch_{tag}_{number}",
            "charge.refunded" if refunded else "charge.succeeded",
            "billing",
            tick(),
            ("billing_customer", customer),
            (
                "Charge",
                {
                    "charge_id": f"ch_{tag}",
                    "invoice_id": invoice,
                    "customer_id": customer,
                    "amount": total,
                    "amount_captured": total,
                    "amount_refunded": refunded,
                    "currency": "eur",
                    "currency_exponent": 2,
                    "status": "succeeded",
                },
            ),
        )


def _product(history: History, tick: Any, tag: str, company: str, domain: str) -> None:
    rng = history.rng
    group = f"ws_{tag}"
    by_trait = rng.random() < 0.5
    user = f"user_{tag}"
    history.add(
        f"msg_group_{tag}",
        "group",
        "product",
        tick(),
        ("product_group", group),
        (
            "ProductGroup",
            {
                "group_id": group,
                "user_id": user,
                "name": f"Workspace {tag}",
                "website_domain": None if by_trait else domain,
                "crm_company_id": company if by_trait else None,
            },
        ),
        links=[("crm_company", company)] if by_trait else [],
        domains=[] if by_trait else [domain],
    )
    email = f"dev.{tag}@{domain}"
    history.add(
        f"msg_identify_{tag}",
        "identify",
        "product",
        tick(),
        ("product_user", user),
        ("ProductUser", {"user_id": user, "email": email}),
        emails=[email],
    )
    for number in range(rng.randint(1, 6)):
        # Calls cross UTC days so day buckets are exercised.
        occurred_at = tick(rng.choice([1, 600, 20_000]))
        name = rng.choice(["API Calls Metered", "Report Exported"])
        history.add(
            f"msg_track_{tag}_{number}",
            "track",
            "product",
            occurred_at,
            ("product_group", group),
            (
                "UsageEvent",
                {
                    "message_id": f"msg_track_{tag}_{number}",
                    "group_id": group,
                    "user_id": user,
                    "event_name": name,
                    "quantity": rng.randint(1, 50) if name.startswith("API") else 1,
                    "day": "",
                },
            ),
        )


def _helpdesk(
    history: History,
    tick: Any,
    tag: str,
    company: str,
    domain: str,
    contact_emails: list[str],
) -> None:
    rng = history.rng
    organization = f"7{tag.replace('x', '0')}"
    by_external_id = rng.random() < 0.5
    exported_at = tick()
    history.add(
        f"helpdesk_organization:{organization}:{exported_at}",
        "helpdesk.organization",
        "helpdesk",
        exported_at,
        ("helpdesk_organization", organization),
        (
            "HelpdeskOrganization",
            {
                "organization_id": organization,
                "name": f"Org {tag}",
                "external_id": company if by_external_id else None,
                "domain_names": [] if by_external_id else [domain],
            },
        ),
        links=[("crm_company", company)] if by_external_id else [],
        domains=[] if by_external_id else [domain],
    )
    # A requester without an organization, known by a CRM contact's exact address.
    requester = f"8{tag.replace('x', '0')}"
    exported_at = tick()
    history.add(
        f"helpdesk_user:{requester}:{exported_at}",
        "helpdesk.user",
        "helpdesk",
        exported_at,
        ("helpdesk_user", requester),
        (
            "HelpdeskUser",
            {
                "user_id": requester,
                "email": contact_emails[-1],
                "organization_id": None,
                "role": "end-user",
            },
        ),
        emails=[contact_emails[-1]],
    )
    for ticket_number, with_organization in enumerate((True, False)):
        ticket = f"{organization}{ticket_number}"
        subject = (
            ("helpdesk_organization", organization)
            if with_organization
            else ("helpdesk_user", requester)
        )
        steps = [("ticket.created", "New", None)]
        steps += [("ticket.status_changed", "Open", None)]
        steps += [("ticket.priority_changed", "Open", rng.choice(["High", "Low"]))]
        steps += [("ticket.status_changed", "Solved", steps[-1][2])]
        for number, (event_type, status, priority) in enumerate(steps):
            history.add(
                f"zen_{ticket}_{number}",
                event_type,
                "helpdesk",
                tick(),
                subject,
                (
                    "Ticket",
                    {
                        "ticket_id": ticket,
                        "subject": f"Question {ticket}",
                        "status": status,
                        "priority": priority,
                        "organization_id": organization if with_organization else None,
                        "requester_id": requester,
                    },
                ),
            )


def redelivered(event: dict[str, Any], delay: int, position: int) -> dict[str, Any]:
    """The same event id delivered again, later and from another position."""
    return {
        **event,
        "received_at": event["received_at"] + delay,
        "delivery": {**event["delivery"], "position": position},
    }


def run(
    events: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Dedup then correlate; return (enriched records, events passed by the ledger)."""
    processor_settings = ProcessorSettings()
    ledger = DedupLedger({}, processor_settings.dedup_retention_days)
    correlator = Correlator(CorrelatorStores.in_memory(), processor_settings)
    enriched: list[dict[str, Any]] = []
    passed: list[dict[str, Any]] = []
    for event in events:
        if isinstance(ledger.check(event), Duplicate):
            continue
        passed.append(event)
        enriched += [r for role, _, r in correlator.process(event) if role == ENRICHED]
    return enriched, passed


def deliveries_passed(passed: list[dict[str, Any]]) -> dict[str, set[Any]]:
    """Per event id, the distinct deliveries the ledger let through."""
    by_event: dict[str, set[Any]] = {}
    for event in passed:
        delivery = (event["received_at"], event["delivery"]["position"])
        by_event.setdefault(event["event_id"], set()).add(delivery)
    return by_event


def accounts_by_content(enriched: list[dict[str, Any]]) -> list[str]:
    """Each surviving account as canonical JSON, canonical ids left out."""
    described = []
    for account in fold_like_the_sink(enriched).values():
        profile = {
            k: v
            for k, v in account["profile"].items()
            if k not in ("canonical_account_id", "revision")
        }
        records = sorted(
            (r["record_kind"], r["record_id"], json.dumps(r["payload"], sort_keys=True))
            for r in account["records"]
        )
        described.append(json.dumps([profile, records], sort_keys=True))
    return sorted(described)


@settings(settings.get_profile("processing"))
@given(
    seed=st.integers(min_value=0, max_value=2**31),
    accounts=st.integers(min_value=1, max_value=3),
    data=st.data(),
)
def test_any_delivery_of_a_history_folds_to_its_ordered_outcome(
    seed: int, accounts: int, data: st.DataObject
) -> None:
    history = build_history(seed, accounts)
    copies = data.draw(
        st.lists(
            st.tuples(
                st.integers(0, len(history) - 1),
                st.integers(1, 3 * DAY // SECOND),
            ),
            max_size=6,
        ),
        label="redeliveries (event index, delay in seconds)",
    )
    # A replay is the very record read again after a crash (at-least-once): the ledger
    # passes it on and the correlator must absorb it.
    replays = data.draw(
        st.lists(st.integers(0, len(history) - 1), max_size=6),
        label="replays after a crash (event index)",
    )
    delivered = history + [
        redelivered(history[index], delay * SECOND, len(history) + number + 1)
        for number, (index, delay) in enumerate(copies)
    ]
    delivered += [dict(history[index]) for index in replays]
    delivered = data.draw(st.permutations(delivered), label="delivery order")

    ordered_output, _ = run(history)
    delivered_output, passed = run(delivered)

    assert accounts_by_content(delivered_output) == accounts_by_content(ordered_output)
    # Exactly one delivery of every event goes on (a replay of it may go on again).
    by_event = deliveries_passed(passed)
    assert set(by_event) == {e["event_id"] for e in history}
    assert all(len(deliveries) == 1 for deliveries in by_event.values())


@settings(settings.get_profile("processing"))
@given(seed=st.integers(min_value=0, max_value=2**31), data=st.data())
def test_versions_published_for_a_record_never_repeat_with_other_content(
    seed: int, data: st.DataObject
) -> None:
    history = build_history(seed, accounts=2)
    delivered = data.draw(st.permutations(history), label="delivery order")

    enriched, _ = run(delivered)

    seen: dict[tuple[str, str, int], str] = {}
    for record in enriched:
        key = (record["record_kind"], record["record_id"], record["version"])
        content = json.dumps([record["payload"], record["account"]], sort_keys=True)
        if record["record_kind"] == "account_merge":
            continue
        assert seen.setdefault(key, content) == content, key


def test_the_generated_history_covers_every_business_record_kind() -> None:
    enriched, _ = run(build_history(seed=11, accounts=3))

    kinds = {r["record_kind"] for r in enriched}
    assert {"account_profile", "contact", "subscription", "invoice"} <= kinds
    assert {"usage_daily", "ticket"} <= kinds
