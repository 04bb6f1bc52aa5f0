"""Replaying the enriched topic against Odoo is safe, and repairs what it should."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from test_sink_end_to_end import (
    merge_scenario,
    produce_events,
    record_by_xmlid,
    run_sink_until_idle,
)

from pipeline.settings import Settings
from sinks.odoo import OdooClient
from sinks.replay import ReplayError, replay

pytestmark = pytest.mark.integration


# Every field the sink owns, per model, plus the external ids themselves.
OWNED_FIELDS = {
    "res.partner": [
        "name",
        "active",
        "is_company",
        "type",
        "parent_id",
        "email",
        "phone",
        "vat",
        "country_id",
        "ref",
        "x_source_version",
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
        "x_profile_revision",
        "x_merged_into",
        "x_crm_contact_id",
    ],
    "sale.order": [
        "partner_id",
        "currency_id",
        "client_order_ref",
        "is_subscription",
        "subscription_state",
        "x_source_version",
        "x_subscription_id",
        "x_status",
        "x_quantity",
        "x_unit_amount",
        "x_cancel_at_period_end",
    ],
    "account.move": [
        "partner_id",
        "currency_id",
        "move_type",
        "payment_reference",
        "x_source_version",
        "x_invoice_id",
        "x_status",
        "x_payment_status",
        "x_amount_total",
        "x_amount_paid",
        "x_amount_refunded",
    ],
    "helpdesk.ticket": [
        "partner_id",
        "name",
        "priority",
        "x_source_version",
        "x_ticket_id",
        "x_status",
        "x_priority",
    ],
    "x_product_usage": [
        "x_name",
        "x_partner_id",
        "x_day",
        "x_event",
        "x_count",
        "x_quantity",
        "x_source_version",
    ],
    "ir.model.data": ["module", "name", "model", "res_id"],
}


def odoo_dump(client: OdooClient) -> dict[str, list[dict[str, Any]]]:
    dump = {}
    for model, fields in OWNED_FIELDS.items():
        domain = [("active", "in", [True, False])] if model == "res.partner" else []
        dump[model] = client.search_read(model, domain, fields, order="id")
    return dump


def replay_all(settings: Settings, client: OdooClient, *, dry_run: bool) -> Any:
    return replay(
        settings,
        from_offset=0,
        from_timestamp=None,
        partitions=None,
        dry_run=dry_run,
        client=client,
    )


def test_replay_from_offset_zero_leaves_odoo_unchanged(
    sink_settings: Settings, client: OdooClient
) -> None:
    events = merge_scenario()
    produce_events(sink_settings, events)
    run_sink_until_idle(sink_settings, client)
    before = odoo_dump(client)

    report = replay_all(sink_settings, client, dry_run=False)

    assert report.records == len(events)
    assert report.stats.written == 0
    assert report.stats.dead_lettered == 0
    assert report.stats.skipped_stale == len(events)
    assert odoo_dump(client) == before
    assert len(before["helpdesk.ticket"]) == 3


def sink_the_scenario_and_stale_a_ticket(
    settings: Settings, client: OdooClient
) -> None:
    """The merge scenario written to Odoo, then one ticket put back to an older state
    than the topic's (as a restored backup would)."""
    produce_events(settings, merge_scenario())
    run_sink_until_idle(settings, client)
    stale = record_by_xmlid(client, "ticket_t_1", ["x_status"])
    client.write(
        "helpdesk.ticket", [stale["id"]], {"x_status": "x", "x_source_version": 1}
    )


def test_dry_run_reports_external_ids_and_writes_nothing(
    sink_settings: Settings, client: OdooClient
) -> None:
    sink_the_scenario_and_stale_a_ticket(sink_settings, client)
    before = odoo_dump(client)

    report = replay_all(sink_settings, client, dry_run=True)

    assert odoo_dump(client) == before
    assert report.would_apply == 1
    assert report.would_skip == report.records - 1
    assert {
        "saas_pipeline.account_acc_a",
        "saas_pipeline.account_acc_b",
        "saas_pipeline.crm_contact_c_1",
        "saas_pipeline.subscription_sub_a",
        "saas_pipeline.invoice_in_a",
        "saas_pipeline.usage_ws_a_2024_05_01_Calls",
        "saas_pipeline.ticket_t_1",
        "saas_pipeline.ticket_t_3",
    } <= report.external_ids


def test_replay_repairs_a_record_older_than_the_topic(
    sink_settings: Settings, client: OdooClient
) -> None:
    sink_the_scenario_and_stale_a_ticket(sink_settings, client)

    report = replay_all(sink_settings, client, dry_run=False)

    assert report.stats.updated == 1
    repaired = record_by_xmlid(client, "ticket_t_1", ["x_status", "x_source_version"])
    assert (repaired["x_status"], repaired["x_source_version"]) == ("open", 50)


def test_replay_by_time_and_partition(
    sink_settings: Settings, client: OdooClient
) -> None:
    events = merge_scenario()
    produce_events(sink_settings, events)

    future = replay(
        sink_settings,
        from_offset=None,
        from_timestamp=datetime.now(UTC) + timedelta(hours=1),
        partitions=None,
        dry_run=True,
        client=client,
    )
    past = replay(
        sink_settings,
        from_offset=None,
        from_timestamp=datetime.now(UTC) - timedelta(hours=1),
        partitions=None,
        dry_run=True,
        client=client,
    )
    [busiest] = [max(past.ranges, key=lambda r: r.size)]
    one_partition = replay(
        sink_settings,
        from_offset=None,
        from_timestamp=None,
        partitions=[busiest.partition],
        dry_run=True,
        client=client,
    )

    assert future.records == 0
    assert past.records == len(events)
    assert past.would_apply == len(events)  # nothing in Odoo yet
    assert one_partition.records == busiest.size
    assert [r.partition for r in one_partition.ranges] == [busiest.partition]
    assert client.search_count("helpdesk.ticket", []) == 0


def test_replay_refuses_offset_and_time_together(sink_settings: Settings) -> None:
    with pytest.raises(ReplayError, match="not both"):
        replay(
            sink_settings,
            from_offset=0,
            from_timestamp=datetime.now(UTC),
            partitions=None,
            dry_run=True,
        )
