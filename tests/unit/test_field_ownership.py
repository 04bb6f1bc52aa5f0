"""Field ownership: a source writes only the Odoo fields the configuration gives it."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_odoo_writer import MODULE, FakeOdoo
from test_record_mapping import account_context, enriched, ticket

from sinks.batch_writer import BatchWriter
from sinks.field_ownership import FieldOwnership, OwnershipFileError
from sinks.odoo_writer import OdooWriter, WriteAction
from sinks.record_mapping import account_plan, plan_for


def with_source(event: dict, source: str) -> dict:
    return event | {"source_system": source}


def test_default_file_lets_each_record_kind_write_from_its_own_source() -> None:
    ownership = FieldOwnership.from_file()
    event = with_source(enriched("ticket", ("pipeline.Ticket", ticket())), "helpdesk")
    plan = plan_for(event)

    assert ownership.filter(plan, event) is plan


def test_record_from_a_source_owning_none_of_its_fields_is_skipped_whole() -> None:
    odoo = FakeOdoo()
    writer = OdooWriter(odoo, MODULE, ownership=FieldOwnership.from_file())
    event = with_source(enriched("ticket", ("pipeline.Ticket", ticket())), "billing")

    outcome = writer.apply(event)

    assert outcome.action is WriteAction.SKIPPED_NOT_OWNER
    assert "x_status" in outcome.skipped_fields
    assert not odoo.rows.get("helpdesk.ticket")


def test_batched_and_one_by_one_skip_the_same_way() -> None:
    odoo = FakeOdoo()
    writer = OdooWriter(odoo, MODULE, ownership=FieldOwnership.from_file())
    event = with_source(enriched("ticket", ("pipeline.Ticket", ticket())), "crm")

    [outcome] = BatchWriter(odoo, writer, MODULE).apply([event]).outcomes

    assert outcome.action is WriteAction.SKIPPED_NOT_OWNER  # type: ignore[union-attr]
    assert not odoo.rows.get("helpdesk.ticket")


def test_account_without_crm_takes_its_name_from_billing() -> None:
    ownership = FieldOwnership.from_file()
    context = account_context(linked_to_crm=False, display_name="Billing Name")
    event = with_source(enriched("account_profile"), "product") | {"account": context}
    plan = account_plan(context, version=4)

    owned = ownership.filter(plan, event)

    assert owned is not None
    assert owned.values["name"] == "Billing Name"


def test_only_the_named_owner_writes_when_no_fallback_is_configured(
    tmp_path: Path,
) -> None:
    rules = tmp_path / "ownership.toml"
    rules.write_text(
        '[models."res.partner".fields]\nname = ["crm"]\ncountry_id = ["crm"]\n'
    )
    ownership = FieldOwnership.from_file(rules)
    context = account_context(linked_to_crm=False, crm_company_ids=[])
    odoo = FakeOdoo()
    writer = OdooWriter(odoo, MODULE, ownership=ownership)

    outcome = writer.apply(
        enriched("account_profile", version=4) | {"account": context}
    )

    assert outcome.action is WriteAction.CREATED
    assert set(outcome.skipped_fields) == {"name"}
    partner = odoo.by_xmlid("account_acc_1")
    assert partner["name"] == "acc-1"  # named by its id until the CRM names it
    assert partner["x_billing_emails"] == '["billing@org.example"]'


def test_fallback_owner_writes_only_while_the_first_owner_does_not_know_the_account(
    tmp_path: Path,
) -> None:
    rules = tmp_path / "ownership.toml"
    rules.write_text('[models."helpdesk.ticket".fields]\nname = ["crm", "helpdesk"]\n')
    ownership = FieldOwnership.from_file(rules)
    event = with_source(enriched("ticket", ("pipeline.Ticket", ticket())), "helpdesk")
    plan = plan_for(event)

    linked = ownership.filter(plan, event)
    unlinked_event = event | {"account": account_context(linked_to_crm=False)}
    unlinked = ownership.filter(plan, unlinked_event)

    assert linked is not None and linked.skipped_fields == ("name",)
    assert unlinked is plan


def test_unknown_source_in_the_file_is_refused(tmp_path: Path) -> None:
    rules = tmp_path / "ownership.toml"
    rules.write_text('[models."sale.order".fields]\n"*" = ["erp"]\n')

    with pytest.raises(OwnershipFileError, match="erp"):
        FieldOwnership.from_file(rules)
