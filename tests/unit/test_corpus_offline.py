"""The whole corpus through dedup and the correlator, folded the way the Odoo sink
folds it, must reach exactly the final state the corpus's expected.json describes."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from eventbus import AvroCodec
from pipeline.settings import ProcessorSettings
from processors.correlate import ENRICHED, LATE, Correlator, CorrelatorStores
from processors.dedup import MICROS_PER_DAY, DedupLedger, Duplicate
from processors.envelope import to_micros
from processors.notices import DUPLICATE, duplicate_notice
from producers.corpus import read_corpus
from producers.outcomes import AcceptedEvent

SHUFFLE_SEEDS = [3, 17, 2024]


def accepted_events(corpus_dir: Path) -> list[dict[str, Any]]:
    return [o.event for o in read_corpus(corpus_dir) if isinstance(o, AcceptedEvent)]


def corpus_settings(expected: dict[str, Any] | None) -> ProcessorSettings:
    """Default settings plus any free-mail domains the corpus declares it uses."""
    settings = ProcessorSettings()
    declared = ((expected or {}).get("conventions") or {}).get("free_mail_domains", [])
    domains = [*settings.free_mail_domains, *declared]
    return settings.model_copy(update={"free_mail_domains": domains})


def run_pipeline(
    events: list[dict[str, Any]],
    expected: dict[str, Any] | None = None,
    usage_grace_days: float | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Dedup then correlate every event; return (enriched records, duplicate notices)."""
    settings = corpus_settings(expected)
    if usage_grace_days is not None:
        settings = settings.model_copy(update={"usage_grace_days": usage_grace_days})
    ledger = DedupLedger({}, settings.dedup_retention_days)
    correlator = Correlator(CorrelatorStores.in_memory(), settings)
    enriched: list[dict[str, Any]] = []
    notices: list[dict[str, Any]] = []
    for event in events:
        verdict = ledger.check(event)
        if isinstance(verdict, Duplicate):
            notices.append(duplicate_notice(event, verdict.first_delivery, 0))
            continue
        for role, key, record in correlator.process(event):
            if role == ENRICHED:
                assert key in (record["canonical_account_id"], record["record_id"])
                enriched.append(record)
            else:
                # Late events travel as they came, with a reason: no notice of their own.
                assert role == LATE
                assert record["reason"]
    return enriched, notices


def fold_like_the_sink(enriched: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Final state per surviving account: newest version per record, merges followed."""
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    merged_into: dict[str, str] = {}
    for record in enriched:
        if record["record_kind"] == "account_merge":
            merged_into[record["record_id"]] = record["payload"][1]["survivor_id"]
            continue
        key = (record["record_kind"], record["record_id"])
        held = latest.get(key)
        if held is None or record["version"] > held["version"]:
            latest[key] = record

    def final_account(account_id: str) -> str:
        while account_id in merged_into:
            account_id = merged_into[account_id]
        return account_id

    accounts: dict[str, dict[str, Any]] = {}
    for (kind, record_id), record in latest.items():
        if kind == "account_profile" and record_id not in merged_into:
            accounts[record_id] = {"profile": record["account"], "records": []}
    for (kind, _), record in latest.items():
        if kind != "account_profile":
            owner = final_account(record["canonical_account_id"])
            accounts[owner]["records"].append(record)
    return accounts


def summarise(account: dict[str, Any]) -> dict[str, Any]:
    """An account in expected.json's vocabulary."""
    profile = account["profile"]
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in account["records"]:
        by_kind[record["record_kind"]].append(record["payload"][1])
    usage: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for row in by_kind["usage_daily"]:
        usage[(row["day"], row["event_name"])][0] += row["count"]
        usage[(row["day"], row["event_name"])][1] += row["quantity"]
    return {
        "display_name": profile["display_name"],
        "domain": profile["domain"],
        "country": profile["country_code"],
        "vat_number": profile["vat_number"],
        "linked_to_crm": profile["linked_to_crm"],
        "flags": sorted(profile["flags"]),
        "crm_company_ids": profile["crm_company_ids"],
        "stripe_customer_ids": profile["billing_customer_ids"],
        "segment_group_ids": profile["product_group_ids"],
        "zendesk_organization_ids": profile["helpdesk_organization_ids"],
        "contact_emails": profile["contact_emails"],
        "billing_emails": profile["billing_emails"],
        "contacts": sorted(
            (
                {k: c[k] for k in ("name", "email", "phone")}
                | {"crm_contact_id": c["record_id"]}
                for c in by_kind["contact"]
            ),
            key=lambda c: c["crm_contact_id"],
        ),
        "subscriptions": sorted(
            (
                {
                    k: s[k]
                    for k in (
                        "subscription_id",
                        "customer_id",
                        "price_id",
                        "price_lookup_key",
                        "product_id",
                        "unit_amount",
                        "currency",
                        "interval",
                        "quantity",
                        "status",
                        "cancel_at_period_end",
                    )
                }
                for s in by_kind["subscription"]
            ),
            key=lambda s: s["subscription_id"],
        ),
        "invoices": sorted(
            (
                {
                    k: i[k]
                    for k in (
                        "invoice_id",
                        "number",
                        "customer_id",
                        "subscription_id",
                        "amount_total",
                        "amount_paid",
                        "amount_refunded",
                        "currency",
                        "payment_status",
                    )
                }
                | {"invoice_status": i["status"]}
                for i in by_kind["invoice"]
            ),
            key=lambda i: i["invoice_id"],
        ),
        "usage": sorted(
            (
                {"day": day, "event": event, "count": c, "quantity": q}
                for (day, event), (c, q) in usage.items()
            ),
            key=lambda u: (u["day"], u["event"]),
        ),
        "tickets": sorted(
            (
                {k: t[k] for k in ("ticket_id", "subject", "status", "priority")}
                for t in by_kind["ticket"]
            ),
            key=lambda t: t["ticket_id"],
        ),
    }


def expected_summary(account: dict[str, Any]) -> dict[str, Any]:
    summary = {k: v for k, v in account.items() if k != "account_ref"}
    summary["flags"] = sorted(summary["flags"])
    for name, id_field in (
        ("contacts", "crm_contact_id"),
        ("subscriptions", "subscription_id"),
        ("invoices", "invoice_id"),
        ("tickets", "ticket_id"),
    ):
        summary[name] = sorted(summary[name], key=lambda r, f=id_field: r[f])
    summary["usage"] = sorted(summary["usage"], key=lambda u: (u["day"], u["event"]))
    return summary


def source_ids(summary: dict[str, Any]) -> frozenset[str]:
    return frozenset(
        f"{field}:{value}"
        for field in (
            "crm_company_ids",
            "stripe_customer_ids",
            "segment_group_ids",
            "zendesk_organization_ids",
        )
        for value in summary[field]
    )


def assert_matches_expected(
    accounts: dict[str, dict[str, Any]], expected: dict[str, Any]
) -> None:
    actual = {}
    for account in accounts.values():
        summary = summarise(account)
        actual[source_ids(summary)] = summary
    wanted = {}
    for account in expected["accounts"]:
        summary = expected_summary(account)
        wanted[source_ids(summary)] = summary
    assert sorted(map(sorted, actual)) == sorted(map(sorted, wanted))
    for ids, summary in wanted.items():
        assert actual[ids] == summary, f"account {sorted(ids)} differs"


@pytest.fixture(scope="module")
def expected(corpus_dir: Path) -> dict[str, Any]:
    return json.loads((corpus_dir / "expected.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def events(corpus_dir: Path) -> list[dict[str, Any]]:
    return accepted_events(corpus_dir)


def test_corpus_in_delivery_order_reaches_expected_state(
    events: list[dict[str, Any]], expected: dict[str, Any]
) -> None:
    enriched, _ = run_pipeline(events, expected)

    assert_matches_expected(fold_like_the_sink(enriched), expected)


def test_duplicates_are_dropped_with_notices_naming_the_first_line(
    events: list[dict[str, Any]], expected: dict[str, Any]
) -> None:
    _, notices = run_pipeline(events, expected)

    duplicates = sorted(
        (
            n["delivery"]["source_name"],
            n["delivery"]["position"],
            n["event_id"],
            n["first_delivery"]["position"],
        )
        for n in notices
        if n["kind"] == DUPLICATE
    )
    wanted = sorted(
        (d["file"], d["line"], d["event_id"], d["first_line"])
        for d in expected["duplicate_lines"]
    )
    assert duplicates == wanted


def test_every_output_is_a_valid_avro_record(events: list[dict[str, Any]]) -> None:
    codec = AvroCodec()
    enriched, notices = run_pipeline(events)

    for record in enriched:
        decoded = codec.decode("EnrichedEvent", codec.encode("EnrichedEvent", record))
        assert decoded["record_id"] == record["record_id"]
        assert decoded["account"] == record["account"]
    for notice in notices:
        codec.decode("ProcessingNotice", codec.encode("ProcessingNotice", notice))


@pytest.mark.parametrize("seed", SHUFFLE_SEEDS)
def test_corpus_in_shuffled_order_reaches_the_same_state(
    events: list[dict[str, Any]], expected: dict[str, Any], seed: int
) -> None:
    shuffled = list(events)
    random.Random(seed).shuffle(shuffled)
    # A shuffle delays calls by up to the corpus's whole span, which only a grace at
    # least that long accepts (a shorter one routes them to the late-events topic).
    times = [to_micros(e["occurred_at"]) for e in events]
    span_days = (max(times) - min(times)) / MICROS_PER_DAY + 1

    enriched, notices = run_pipeline(shuffled, expected, usage_grace_days=span_days)

    assert_matches_expected(fold_like_the_sink(enriched), expected)
    assert sum(n["kind"] == DUPLICATE for n in notices) == len(
        expected["duplicate_lines"]
    )
