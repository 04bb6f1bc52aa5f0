"""Batched writes reach the state one-by-one writes reach, with far fewer calls.

Both writers run against ``FakeOdoo`` (tests/unit/test_odoo_writer.py); the comparison
reads every stored row except ids, which depend on the order of creation.
"""

from __future__ import annotations

from typing import Any

import pytest
from test_odoo_writer import MODULE, FakeOdoo, merge_event
from test_record_mapping import enriched, invoice, subscription, ticket

from eventbus import AvroCodec
from sinks.batch_writer import BatchWriter
from sinks.consumer import DeadLetter, RecordApplier, RecordSource
from sinks.odoo import OdooTransientError, OdooValidationError
from sinks.odoo_writer import OdooWriter, WriteAction, WriteOutcome
from sinks.segment_applier import PendingRecord, SegmentApplier


def usage(group_id: str, day: str, count: int) -> tuple[str, dict[str, Any]]:
    row = {
        "group_id": group_id,
        "day": day,
        "event_name": "Calls",
        "count": count,
        "quantity": count * 10,
    }
    return ("pipeline.UsageDaily", row)


def mixed_records() -> list[dict[str, Any]]:
    """Several accounts, late and repeated versions, records before their profile."""
    contact = {"record_id": "c-9", "name": "N", "email": "n@x.example", "phone": None}
    return [
        enriched("ticket", ("pipeline.Ticket", ticket()), version=5),
        enriched("account_profile", version=3),
        enriched("subscription", ("pipeline.Subscription", subscription()), version=7),
        enriched(
            "subscription",
            ("pipeline.Subscription", subscription(status="canceled")),
            version=9,
        ),
        # Older state after the newer one: the guard keeps version 9.
        enriched(
            "subscription",
            ("pipeline.Subscription", subscription(status="paused")),
            version=8,
        ),
        enriched("invoice", ("pipeline.Invoice", invoice()), version=4),
        enriched("contact", ("pipeline.CrmContact", contact), version=2),
        enriched("usage_daily", usage("ws-b", "2024-01-01", 1), canonical_id="acc-2"),
        enriched(
            "usage_daily",
            usage("ws-b", "2024-01-01", 3),
            version=11,
            canonical_id="acc-2",
        ),
        enriched("account_profile", version=4, canonical_id="acc-2"),
        enriched("ticket", ("pipeline.Ticket", ticket(status="solved")), version=6),
    ]


def state_without_ids(odoo: FakeOdoo) -> dict[str, list[dict[str, Any]]]:
    """Every model's rows with ids and references replaced by external-id names."""
    names = {
        (row["model"], row["res_id"]): row["name"]
        for row in odoo.rows.get("ir.model.data", {}).values()
    }
    partner_names = {
        rid: name for (m, rid), name in names.items() if m == "res.partner"
    }
    state: dict[str, list[dict[str, Any]]] = {}
    for model in ("res.partner", "sale.order", "account.move", "helpdesk.ticket"):
        rows = []
        for row in odoo.rows.get(model, {}).values():
            rendered = {k: v for k, v in row.items() if k != "id"}
            for ref in ("parent_id", "partner_id", "x_partner_id"):
                if rendered.get(ref):
                    rendered[ref] = partner_names[rendered[ref]]
            rendered.pop("currency_id", None)
            rendered.pop("country_id", None)
            rows.append(rendered)
        state[model] = sorted(rows, key=repr)
    return state


def test_batch_reaches_the_one_by_one_state_with_few_calls() -> None:
    one_by_one, batched = FakeOdoo(), FakeOdoo()
    writer = OdooWriter(one_by_one, MODULE)
    actions_one_by_one = [writer.apply(event).action for event in mixed_records()]
    calls_one_by_one = len(one_by_one.calls)

    batch = BatchWriter(batched, OdooWriter(batched, MODULE), MODULE)
    result = batch.apply(mixed_records())

    assert state_without_ids(batched) == state_without_ids(one_by_one)
    assert len(batched.calls) * 2 < calls_one_by_one
    actions = [o.action for o in result.outcomes if isinstance(o, WriteOutcome)]
    assert actions == actions_one_by_one


def test_second_batch_updates_in_place_and_skips_stale() -> None:
    odoo = FakeOdoo()
    batch = BatchWriter(odoo, OdooWriter(odoo, MODULE), MODULE)
    batch.apply(mixed_records())
    rows_before = {m: len(r) for m, r in odoo.rows.items()}

    result = batch.apply(mixed_records())

    assert {m: len(r) for m, r in odoo.rows.items()} == rows_before
    assert all(
        o.action is WriteAction.SKIPPED_STALE
        for o in result.outcomes
        if isinstance(o, WriteOutcome)
    )
    assert ("helpdesk.ticket", "write") not in odoo.calls[-3:]


def test_record_without_external_id_is_adopted() -> None:
    odoo = FakeOdoo()
    orphan = odoo.seed("helpdesk.ticket", {"x_ticket_id": "77", "x_source_version": 5})
    batch = BatchWriter(odoo, OdooWriter(odoo, MODULE), MODULE)

    batch.apply([enriched("ticket", ("pipeline.Ticket", ticket()), version=6)])

    assert list(odoo.rows["helpdesk.ticket"]) == [orphan]
    assert odoo.xmlid_count("ticket_77") == 1
    assert odoo.by_xmlid("ticket_77")["x_source_version"] == 6


def test_unknown_currency_fails_only_its_record() -> None:
    odoo = FakeOdoo()
    batch = BatchWriter(odoo, OdooWriter(odoo, MODULE), MODULE)
    events = [
        enriched("invoice", ("pipeline.Invoice", invoice(currency="xxx")), version=4),
        enriched("ticket", ("pipeline.Ticket", ticket()), version=5),
    ]

    result = batch.apply(events)

    assert type(result.outcomes[0]).__name__ == "UnmappableRecord"
    assert odoo.by_xmlid("ticket_77")["x_source_version"] == 5


class RefusingOdoo(FakeOdoo):
    """Refuses any create or write that carries the poisoned ticket id."""

    def execute(self, call: Any) -> Any:
        vals = call.params.get("vals_list") or [call.params.get("vals") or {}]
        if any(v.get("x_ticket_id") == "bad" for v in vals):
            self.calls.append((call.model, call.method))
            raise OdooValidationError("bad ticket", model=call.model, method="create")
        return super().execute(call)


def encoded(events: list[dict[str, Any]]) -> list[PendingRecord]:
    codec = AvroCodec()
    return [
        PendingRecord(
            RecordSource("enriched", 0, offset), codec.encode("EnrichedEvent", e)
        )
        for offset, e in enumerate(events)
    ]


def segment_applier(odoo: FakeOdoo, *, batched: bool = True) -> SegmentApplier:
    writer = OdooWriter(odoo, MODULE)
    applier = RecordApplier(writer, AvroCodec(), retry_seconds=5, sleep=lambda s: None)
    return SegmentApplier(
        applier, BatchWriter(odoo, writer, MODULE) if batched else None
    )


def test_refused_batch_is_split_until_the_bad_record_is_dead_lettered() -> None:
    odoo = RefusingOdoo()
    events = [
        enriched(
            "ticket",
            ("pipeline.Ticket", ticket(ticket_id=f"t{n}")),
            version=n,
            record_id=f"t{n}",
        )
        for n in range(1, 8)
    ]
    events.insert(4, enriched("ticket", ("pipeline.Ticket", ticket(ticket_id="bad"))))

    poll = segment_applier(odoo).apply(encoded(events))

    assert poll.unavailable is None
    letters = [r for r in poll.results if isinstance(r, DeadLetter)]
    assert [(d.source.offset, d.error_class) for d in letters] == [
        (4, "OdooValidationError")
    ]
    assert len(odoo.rows["helpdesk.ticket"]) == 7


def test_merge_is_a_barrier_between_segments() -> None:
    odoo = FakeOdoo()
    events = [
        enriched("account_profile", version=1, canonical_id="acc-1"),
        enriched("account_profile", version=1, canonical_id="acc-2"),
        merge_event("acc-1", "acc-2"),
        enriched(
            "ticket", ("pipeline.Ticket", ticket()), version=5, canonical_id="acc-2"
        ),
    ]

    poll = segment_applier(odoo).apply(encoded(events))

    assert [r.action for r in poll.results if isinstance(r, WriteOutcome)] == [
        WriteAction.CREATED,
        WriteAction.CREATED,
        WriteAction.MERGED,
        WriteAction.CREATED,
    ]
    # The ticket of the absorbed account follows the merge to the survivor.
    assert (
        odoo.by_xmlid("ticket_77")["partner_id"] == odoo.by_xmlid("account_acc_1")["id"]
    )


@pytest.mark.parametrize("batched", [True, False])
def test_outage_stops_at_the_first_unfinished_record(batched: bool) -> None:
    odoo = FakeOdoo()
    events = [
        enriched("account_profile", version=1),
        merge_event("acc-1", "acc-2"),
        enriched("ticket", ("pipeline.Ticket", ticket()), version=5),
    ]
    applier = segment_applier(odoo, batched=batched)
    applier.apply(encoded(events[:1]))
    odoo.fail("ir.model.data", "search_read", *[OdooTransientError("down")] * 1000)

    poll = applier.apply(encoded(events[1:]))

    assert poll.results == []
    assert poll.unavailable is not None
    assert poll.unavailable.source.offset == 0
