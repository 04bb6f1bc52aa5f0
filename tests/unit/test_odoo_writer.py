"""The writer's upsert, version guard and merges, and the sink's per-record decisions.

Odoo is replaced by ``FakeOdoo``: an in-memory ORM behind the real ``OdooClient``
interface (so the client's method signatures are the ones used), with Odoo's read
semantics: unset fields read ``False``, many2one reads ``[id, name]``, archived partners
are hidden unless the domain mentions ``active``.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from test_record_mapping import (
    account_context,
    enriched,
    invoice,
    subscription,
    ticket,
)

from eventbus import AvroCodec
from sinks.consumer import (
    DEAD_LETTER_HEADER_PREFIX,
    DeadLetter,
    OdooUnavailable,
    RecordApplier,
    RecordSource,
)
from sinks.odoo import (
    MethodCall,
    OdooClient,
    OdooTransientError,
    OdooValidationError,
)
from sinks.odoo_writer import OdooWriter, WriteAction

MODULE = "saas_pipeline"

MANY2ONE = {
    "res.partner": {"parent_id": "res.partner", "country_id": "res.country"},
    "sale.order": {"partner_id": "res.partner", "currency_id": "res.currency"},
    "account.move": {"partner_id": "res.partner", "currency_id": "res.currency"},
    "helpdesk.ticket": {"partner_id": "res.partner"},
    "x_product_usage": {"x_partner_id": "res.partner"},
}
WITH_ACTIVE = {"res.partner", "res.currency"}


class FakeOdoo(OdooClient):
    """Just enough of Odoo's ORM for the writer, keyed by model and id."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[int, dict[str, Any]]] = {}
        self.calls: list[tuple[str, str]] = []
        self.failures: dict[tuple[str, str], list[Exception]] = {}
        self.lost_answers: dict[tuple[str, str], list[Exception]] = {}
        self._ids = itertools.count(1)
        self.seed("res.currency", {"name": "EUR", "active": True})
        self.seed("res.currency", {"name": "GBP", "active": False})
        self.seed("res.country", {"name": "Norway", "code": "NO"})

    def seed(self, model: str, values: dict[str, Any]) -> int:
        record_id = next(self._ids)
        row = {"id": record_id, **values}
        if model in WITH_ACTIVE:
            row.setdefault("active", True)
        self.rows.setdefault(model, {})[record_id] = row
        return record_id

    def fail(self, model: str, method: str, *errors: Exception) -> None:
        """The next calls fail before Odoo does anything."""
        self.failures.setdefault((model, method), []).extend(errors)

    def lose_answer(self, model: str, method: str, error: Exception) -> None:
        """The next call is carried out, but its answer never reaches the client."""
        self.lost_answers.setdefault((model, method), []).append(error)

    def call(self, model: str, method: str, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(method)

    def close(self) -> None:
        pass

    def execute(self, call: MethodCall) -> Any:
        self.calls.append((call.model, call.method))
        pending = self.failures.get((call.model, call.method))
        if pending:
            raise pending.pop(0)
        result = self._carry_out(call)
        lost = self.lost_answers.get((call.model, call.method))
        if lost:
            raise lost.pop(0)
        return result

    def _carry_out(self, call: MethodCall) -> Any:
        table = self.rows.setdefault(call.model, {})
        params = call.params
        if call.method in ("search", "search_read", "search_count"):
            found = [r for r in table.values() if self._matches(call.model, r, params)]
            found.sort(key=lambda r: r["id"])
            found = found[params.get("offset", 0) :]
            if params.get("limit") is not None:
                found = found[: params["limit"]]
            if call.method == "search":
                return [r["id"] for r in found]
            if call.method == "search_count":
                return len(found)
            return [self._render(call.model, r, params["fields"]) for r in found]
        if call.method == "read":
            return [
                self._render(call.model, table[i], params["fields"])
                for i in call.ids or []
                if i in table
            ]
        if call.method == "create":
            return [self.seed(call.model, dict(v)) for v in params["vals_list"]]
        if call.method == "write":
            for record_id in call.ids or []:
                table[record_id].update(params["vals"])
            return True
        if call.method == "unlink":
            for record_id in call.ids or []:
                del table[record_id]
            return True
        raise NotImplementedError(call.method)

    def _matches(self, model: str, row: dict[str, Any], params: Any) -> bool:
        domain = [tuple(leaf) for leaf in params["domain"]]
        if model in WITH_ACTIVE and not any(leaf[0] == "active" for leaf in domain):
            domain.append(("active", "=", True))
        for field_name, operator, value in domain:
            stored = row.get(field_name, False)
            if field_name == "id":
                stored = row["id"]
            if operator == "=" and stored != value:
                return False
            if operator == "!=" and stored == value:
                return False
            if operator == "in" and stored not in value:
                return False
        return True

    def _render(
        self, model: str, row: dict[str, Any], fields: list[str]
    ) -> dict[str, Any]:
        rendered: dict[str, Any] = {"id": row["id"]}
        for field_name in fields:
            value = row.get(field_name, False)
            relation = MANY2ONE.get(model, {}).get(field_name)
            if relation and value:
                value = [value, self.rows[relation][value].get("name", "")]
            rendered[field_name] = value if value is not None else False
        return rendered

    # -- inspection helpers for the tests --------------------------------------------

    def by_xmlid(self, name: str) -> dict[str, Any]:
        [row] = [r for r in self.rows["ir.model.data"].values() if r["name"] == name]
        return self.rows[row["model"]][row["res_id"]]

    def xmlid_count(self, name: str) -> int:
        rows = self.rows.get("ir.model.data", {}).values()
        return sum(1 for r in rows if r["name"] == name)


@pytest.fixture
def odoo() -> FakeOdoo:
    return FakeOdoo()


@pytest.fixture
def writer(odoo: FakeOdoo) -> OdooWriter:
    return OdooWriter(odoo, MODULE)


def test_account_profile_creates_partner_and_external_id(
    odoo: FakeOdoo, writer: OdooWriter
) -> None:
    outcome = writer.apply(enriched("account_profile", version=3))

    assert outcome.action is WriteAction.CREATED
    partner = odoo.by_xmlid("account_acc_1")
    assert partner["name"] == "Example Org"
    assert partner["x_source_version"] == 3
    assert odoo.rows["res.country"][partner["country_id"]]["code"] == "NO"
    [xmlid] = odoo.rows["ir.model.data"].values()
    assert (xmlid["module"], xmlid["model"]) == (MODULE, "res.partner")


@pytest.mark.parametrize("stored_version", [10, 11])
def test_version_guard_skips_equal_and_older(
    odoo: FakeOdoo, writer: OdooWriter, stored_version: int
) -> None:
    newer = enriched("ticket", ("pipeline.Ticket", ticket()), version=stored_version)
    writer.apply(newer)
    writes_before = odoo.calls.count(("helpdesk.ticket", "write"))

    stale = enriched("ticket", ("pipeline.Ticket", ticket(status="new")), version=10)
    outcome = writer.apply(stale)

    assert outcome.action is WriteAction.SKIPPED_STALE
    assert odoo.by_xmlid("ticket_77")["x_status"] == "open"
    assert odoo.calls.count(("helpdesk.ticket", "write")) == writes_before


def test_newer_version_updates_in_place(odoo: FakeOdoo, writer: OdooWriter) -> None:
    writer.apply(enriched("ticket", ("pipeline.Ticket", ticket()), version=10))

    outcome = writer.apply(
        enriched("ticket", ("pipeline.Ticket", ticket(status="solved")), version=11)
    )

    assert outcome.action is WriteAction.UPDATED
    assert odoo.by_xmlid("ticket_77")["x_status"] == "solved"
    assert len(odoo.rows["helpdesk.ticket"]) == 1


def test_record_before_its_account_creates_account_partner_from_context(
    odoo: FakeOdoo, writer: OdooWriter
) -> None:
    writer.apply(enriched("subscription", ("pipeline.Subscription", subscription())))

    order = odoo.by_xmlid("subscription_sub_X")
    partner = odoo.by_xmlid("account_acc_1")
    assert order["partner_id"] == partner["id"]
    assert order["is_subscription"] is True
    assert order["subscription_state"] == "3_progress"
    assert odoo.rows["res.currency"][order["currency_id"]]["name"] == "EUR"
    assert partner["name"] == "Example Org"
    assert partner["x_source_version"] == account_context()["revision"]


def test_archived_currency_is_still_found(odoo: FakeOdoo, writer: OdooWriter) -> None:
    writer.apply(enriched("invoice", ("pipeline.Invoice", invoice(currency="gbp"))))

    move = odoo.by_xmlid("invoice_in_X")
    assert odoo.rows["res.currency"][move["currency_id"]]["name"] == "GBP"
    assert move["move_type"] == "out_invoice"


def test_contact_is_child_of_account_partner(
    odoo: FakeOdoo, writer: OdooWriter
) -> None:
    contact = {"record_id": "9", "name": "N", "email": "n@x.example", "phone": None}
    writer.apply(enriched("contact", ("pipeline.CrmContact", contact)))

    child = odoo.by_xmlid("crm_contact_9")
    assert child["parent_id"] == odoo.by_xmlid("account_acc_1")["id"]
    assert child["type"] == "contact"
    assert child["phone"] is False


def test_outcome_unknown_create_is_adopted_not_duplicated(
    odoo: FakeOdoo, writer: OdooWriter
) -> None:
    # A crash after "create record" and before "create external id" left this behind.
    orphan = odoo.seed("helpdesk.ticket", {"x_ticket_id": "77", "x_source_version": 5})

    outcome = writer.apply(enriched("ticket", ("pipeline.Ticket", ticket()), version=6))

    assert outcome.action is WriteAction.UPDATED
    assert list(odoo.rows["helpdesk.ticket"]) == [orphan]
    assert odoo.by_xmlid("ticket_77")["x_source_version"] == 6
    assert odoo.xmlid_count("ticket_77") == 1


def test_adopted_record_still_obeys_version_guard(
    odoo: FakeOdoo, writer: OdooWriter
) -> None:
    odoo.seed("helpdesk.ticket", {"x_ticket_id": "77", "x_source_version": 9})

    outcome = writer.apply(enriched("ticket", ("pipeline.Ticket", ticket()), version=6))

    assert outcome.action is WriteAction.SKIPPED_STALE
    assert odoo.xmlid_count("ticket_77") == 1


def test_external_id_of_deleted_record_is_dropped_and_record_recreated(
    odoo: FakeOdoo, writer: OdooWriter
) -> None:
    writer.apply(enriched("ticket", ("pipeline.Ticket", ticket()), version=6))
    odoo.rows["helpdesk.ticket"].clear()

    outcome = writer.apply(enriched("ticket", ("pipeline.Ticket", ticket()), version=6))

    assert outcome.action is WriteAction.CREATED
    assert odoo.xmlid_count("ticket_77") == 1
    assert odoo.by_xmlid("ticket_77")["x_ticket_id"] == "77"


def merge_event(survivor: str, *absorbed: str) -> dict[str, Any]:
    merge = {"survivor_id": survivor, "absorbed_ids": list(absorbed), "reason": "test"}
    return enriched(
        "account_merge", ("pipeline.AccountMerge", merge), canonical_id=absorbed[0]
    )


def seed_account_with_records(writer: OdooWriter, canonical_id: str) -> None:
    event = enriched("account_profile", version=1, canonical_id=canonical_id)
    writer.apply(event)
    contact = {"record_id": f"c-{canonical_id}", "name": "C", "email": None}
    usage = {
        "group_id": f"ws-{canonical_id}",
        "day": "2024-01-01",
        "event_name": "e",
        "count": 1,
        "quantity": 1,
    }
    sub = subscription(subscription_id=f"s-{canonical_id}")
    payloads = [
        ("contact", ("pipeline.CrmContact", contact)),
        ("subscription", ("pipeline.Subscription", sub)),
        ("invoice", ("pipeline.Invoice", invoice(invoice_id=f"i-{canonical_id}"))),
        ("ticket", ("pipeline.Ticket", ticket(ticket_id=f"t-{canonical_id}"))),
        ("usage_daily", ("pipeline.UsageDaily", usage)),
    ]
    for kind, payload in payloads:
        writer.apply(enriched(kind, payload, canonical_id=canonical_id))


def test_merge_archives_absorbed_and_repoints_its_records(
    odoo: FakeOdoo, writer: OdooWriter
) -> None:
    seed_account_with_records(writer, "acc-2")
    writer.apply(enriched("account_profile", version=1, canonical_id="acc-1"))

    outcome = writer.apply(merge_event("acc-1", "acc-2"))

    assert outcome.action is WriteAction.MERGED
    survivor = odoo.by_xmlid("account_acc_1")["id"]
    absorbed = odoo.by_xmlid("account_acc_2")
    assert absorbed["active"] is False
    assert absorbed["x_merged_into"] == "acc-1"
    assert odoo.by_xmlid("crm_contact_c_acc_2")["parent_id"] == survivor
    assert odoo.by_xmlid("subscription_s_acc_2")["partner_id"] == survivor
    assert odoo.by_xmlid("invoice_i_acc_2")["partner_id"] == survivor
    assert odoo.by_xmlid("ticket_t_acc_2")["partner_id"] == survivor
    usage = odoo.by_xmlid("usage_ws_acc_2_2024_01_01_e")
    assert usage["x_partner_id"] == survivor


def test_merge_applied_twice_changes_nothing_the_second_time(
    odoo: FakeOdoo, writer: OdooWriter
) -> None:
    seed_account_with_records(writer, "acc-2")
    writer.apply(merge_event("acc-1", "acc-2"))
    writes_before = sum(1 for _, method in odoo.calls if method == "write")

    outcome = writer.apply(merge_event("acc-1", "acc-2"))

    assert outcome.action is WriteAction.UNCHANGED
    assert sum(1 for _, method in odoo.calls if method == "write") == writes_before


def test_merge_creates_placeholder_survivor_that_its_profile_fills(
    odoo: FakeOdoo, writer: OdooWriter
) -> None:
    seed_account_with_records(writer, "acc-2")

    writer.apply(merge_event("acc-9", "acc-2"))
    placeholder = odoo.by_xmlid("account_acc_9")
    assert placeholder["name"] == "acc-9"
    assert placeholder.get("x_source_version", False) is False

    outcome = writer.apply(enriched("account_profile", version=1, canonical_id="acc-9"))

    assert outcome.action is WriteAction.UPDATED
    assert odoo.by_xmlid("account_acc_9")["name"] == "Example Org"
    assert odoo.xmlid_count("account_acc_9") == 1


def test_record_of_absorbed_account_follows_merge_chain(
    odoo: FakeOdoo, writer: OdooWriter
) -> None:
    for canonical_id in ("acc-1", "acc-2", "acc-3"):
        writer.apply(enriched("account_profile", version=1, canonical_id=canonical_id))
    writer.apply(merge_event("acc-2", "acc-3"))
    writer.apply(merge_event("acc-1", "acc-2"))

    late = enriched("ticket", ("pipeline.Ticket", ticket()), canonical_id="acc-3")
    writer.apply(late)

    assert (
        odoo.by_xmlid("ticket_77")["partner_id"] == odoo.by_xmlid("account_acc_1")["id"]
    )


def test_record_for_unmerged_account_after_merge_creates_nothing_extra(
    odoo: FakeOdoo, writer: OdooWriter
) -> None:
    writer.apply(merge_event("acc-1", "acc-2"))

    absorbed = odoo.by_xmlid("account_acc_2")
    assert absorbed["active"] is False
    late = enriched("ticket", ("pipeline.Ticket", ticket()), canonical_id="acc-2")
    writer.apply(late)

    assert (
        odoo.by_xmlid("ticket_77")["partner_id"] == odoo.by_xmlid("account_acc_1")["id"]
    )
    assert len([r for r in odoo.rows["res.partner"].values() if r["is_company"]]) == 2


# -- the sink's per-record decisions (RecordApplier) -----------------------------------

SOURCE = RecordSource("enriched.accounts", 2, 41)
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture
def codec() -> AvroCodec:
    return AvroCodec()


def encoded(codec: AvroCodec, event: dict[str, Any]) -> bytes:
    return codec.encode("EnrichedEvent", event)


def applier_for(odoo: FakeOdoo, codec: AvroCodec, sleeps: list[float]) -> RecordApplier:
    return RecordApplier(
        OdooWriter(odoo, MODULE), codec, retry_seconds=60, sleep=sleeps.append
    )


def ticket_event() -> dict[str, Any]:
    event = enriched("ticket", ("pipeline.Ticket", ticket()))
    event["trace_context"] = {"traceparent": TRACEPARENT}
    return event


def test_transient_error_is_retried_until_odoo_accepts(
    odoo: FakeOdoo, codec: AvroCodec
) -> None:
    sleeps: list[float] = []
    odoo.fail(
        "helpdesk.ticket",
        "create",
        OdooTransientError("busy", retry_after=2.0),
        OdooTransientError("busy"),
    )

    result = applier_for(odoo, codec, sleeps).apply(
        SOURCE, encoded(codec, ticket_event())
    )

    assert not isinstance(result, DeadLetter)
    assert result.action is WriteAction.CREATED
    assert len(sleeps) == 2
    assert sleeps[0] >= 2.0  # Retry-After is honoured
    assert odoo.calls.count(("helpdesk.ticket", "create")) == 3
    assert len(odoo.rows["helpdesk.ticket"]) == 1


def test_transient_errors_beyond_the_budget_raise_without_dead_letter(
    odoo: FakeOdoo, codec: AvroCodec
) -> None:
    odoo.fail(
        "helpdesk.ticket",
        "create",
        *[OdooTransientError("down", retry_after=30.0) for _ in range(10)],
    )
    sleeps: list[float] = []

    with pytest.raises(OdooUnavailable, match=r"enriched.accounts\[2\]@41"):
        applier_for(odoo, codec, sleeps).apply(SOURCE, encoded(codec, ticket_event()))

    assert sum(sleeps) >= 60  # the whole budget was spent waiting, then it gave up
    assert len(sleeps) < 10
    assert "helpdesk.ticket" not in odoo.rows or not odoo.rows["helpdesk.ticket"]


def test_shutdown_ends_retries_without_writing_or_dead_lettering(
    odoo: FakeOdoo, codec: AvroCodec
) -> None:
    odoo.fail("helpdesk.ticket", "create", OdooTransientError("busy"))
    sleeps: list[float] = []
    applier = RecordApplier(
        OdooWriter(odoo, MODULE),
        codec,
        retry_seconds=60,
        sleep=sleeps.append,
        stop_requested=lambda: True,
    )

    with pytest.raises(OdooUnavailable):
        applier.apply(SOURCE, encoded(codec, ticket_event()))

    assert sleeps == []
    assert not odoo.rows.get("helpdesk.ticket")


def test_lost_answer_to_create_converges_on_one_record(
    odoo: FakeOdoo, codec: AvroCodec
) -> None:
    # Odoo created the ticket, but the answer was lost before the external id existed.
    odoo.lose_answer("helpdesk.ticket", "create", OdooTransientError("timed out"))

    result = applier_for(odoo, codec, []).apply(SOURCE, encoded(codec, ticket_event()))

    assert not isinstance(result, DeadLetter)
    assert len(odoo.rows["helpdesk.ticket"]) == 1
    assert odoo.xmlid_count("ticket_77") == 1
    assert odoo.by_xmlid("ticket_77")["x_source_version"] == ticket_event()["version"]


def test_permanent_error_becomes_dead_letter_with_headers(
    odoo: FakeOdoo, codec: AvroCodec
) -> None:
    sleeps: list[float] = []
    odoo.fail(
        "helpdesk.ticket",
        "create",
        OdooTransientError("busy"),
        OdooValidationError("priority refused", model="helpdesk.ticket"),
    )

    result = applier_for(odoo, codec, sleeps).apply(
        SOURCE, encoded(codec, ticket_event())
    )

    assert isinstance(result, DeadLetter)
    headers = {
        name.removeprefix(DEAD_LETTER_HEADER_PREFIX): value.decode()
        for name, value in result.headers()
    }
    assert headers["error-class"] == "OdooValidationError"
    assert "priority refused" in headers["error-message"]
    assert headers["original-topic"] == "enriched.accounts"
    assert headers["original-partition"] == "2"
    assert headers["original-offset"] == "41"
    assert headers["attempts"] == "2"
    assert headers["trace-id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert headers["event-id"] == ticket_event()["event_id"]


def test_undecodable_record_becomes_dead_letter(
    odoo: FakeOdoo, codec: AvroCodec
) -> None:
    result = applier_for(odoo, codec, []).apply(SOURCE, b"\x00\x00")

    assert isinstance(result, DeadLetter)
    assert result.error_class == "WireFormatError"
    assert result.trace_id == ""
    assert odoo.calls == []


def test_record_with_unknown_schema_id_becomes_dead_letter(
    odoo: FakeOdoo, codec: AvroCodec
) -> None:
    result = applier_for(odoo, codec, []).apply(SOURCE, b"\x00\x00\x00\x03\xe7abc")

    assert isinstance(result, DeadLetter)
    assert result.error_class == "SchemaCatalogError"
    assert odoo.calls == []


def test_unknown_currency_becomes_dead_letter(odoo: FakeOdoo, codec: AvroCodec) -> None:
    event = enriched("invoice", ("pipeline.Invoice", invoice(currency="jpy")))

    result = applier_for(odoo, codec, []).apply(SOURCE, encoded(codec, event))

    assert isinstance(result, DeadLetter)
    assert result.error_class == "UnmappableRecord"
    assert "JPY" in result.error_message
    assert "account.move" not in odoo.rows or not odoo.rows["account.move"]


def test_preview_reads_only_even_with_a_dangling_external_id(
    odoo: FakeOdoo, writer: OdooWriter
) -> None:
    writer.apply(enriched("ticket", ("pipeline.Ticket", ticket()), version=6))
    writer.apply(merge_event("acc-9", "acc-1"))
    odoo.rows["helpdesk.ticket"].clear()
    calls_before = len(odoo.calls)

    ticket_preview = writer.preview(
        enriched("ticket", ("pipeline.Ticket", ticket()), version=6)
    )
    merge_preview = writer.preview(merge_event("acc-9", "acc-1"))

    assert ticket_preview.would_apply is True
    assert ticket_preview.external_ids == (f"{MODULE}.ticket_77",)
    assert merge_preview.would_apply is False
    assert odoo.xmlid_count("ticket_77") == 1
    written = [
        m for _, m in odoo.calls[calls_before:] if m in ("create", "write", "unlink")
    ]
    assert written == []


def test_rewrite_same_version_repairs_values_but_never_writes_older(
    odoo: FakeOdoo, writer: OdooWriter
) -> None:
    writer.apply(enriched("ticket", ("pipeline.Ticket", ticket()), version=10))
    odoo.by_xmlid("ticket_77")["x_status"] = "wrong"
    writer.rewrite_same_version = True

    same = writer.apply(enriched("ticket", ("pipeline.Ticket", ticket()), version=10))
    older = writer.apply(
        enriched("ticket", ("pipeline.Ticket", ticket(status="new")), version=9)
    )

    assert same.action is WriteAction.UPDATED
    assert older.action is WriteAction.SKIPPED_STALE
    assert odoo.by_xmlid("ticket_77")["x_status"] == "open"
