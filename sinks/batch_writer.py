"""Apply a run of enriched records to Odoo with a handful of calls instead of five each.

``BatchWriter.apply`` takes the records of one segment (consecutive records of a poll,
no merge among them: a merge is a barrier the consumer applies alone) and brings Odoo
to the state that applying them one by one, in order, through ``OdooWriter`` would
reach:

1. map every record to its ``RecordPlan``; a record that cannot be mapped gets its
   ``UnmappableRecord`` as its result and takes no further part;
2. find every record the segment touches, account partners included, with one
   ``search_read`` on ``ir.model.data`` for all external ids and one ``search_read``
   per model for the stored state (``x_source_version``, plus the fields the records
   write, so callers can see what changes); records without an external id are adopted
   by business id with one more ``search_read`` per model (see ``odoo_writer``);
3. fold the records of each Odoo record in offset order through the version guard, so
   only the last applied state of each is written: one ``create`` of a list per model,
   one ``create`` of external ids, and one ``write`` per record that already existed
   (records whose final values are identical share a ``write``);
4. account partners first (from profiles, or from a record's account context when the
   partner does not exist yet), then the records that point at them. The partner ids
   found are the segment's partner cache; an archived (merged) partner is followed to
   its survivor through ``OdooWriter.account_partner``.

Every Odoo call of JSON-2 is its own transaction, so a permanent error in a list call
means none of that call was applied; the caller isolates the bad record by splitting the
segment (see ``sinks.segment_applier``). Because every step is an idempotent upsert, a
segment that failed half-way can be applied again from its start.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from sinks.account_partner import account_partner_plan, placeholder_account_plan
from sinks.odoo_writer import (
    DEFAULT_STATE_FIELDS,
    MODEL_DATA,
    STATE_FIELDS,
    OdooWriter,
    WriteAction,
    WriteOutcome,
    external_id_values,
    stored_version,
    with_archived,
)
from sinks.record_mapping import (
    PARTNER_MODEL,
    MergePlan,
    RecordPlan,
    UnmappableRecord,
    plan_for,
)

if TYPE_CHECKING:
    from sinks.odoo.client import OdooClient

logger = logging.getLogger(__name__)


@dataclass
class RecordState:
    """What the segment knows of one Odoo record while folding its records."""

    plan: RecordPlan
    row: dict[str, Any] | None
    version: int | None
    # The plan whose values end up in Odoo, and the event it came from.
    final: RecordPlan | None = None
    final_event: dict[str, Any] | None = None
    indices: list[int] = field(default_factory=list)

    @property
    def exists(self) -> bool:
        return self.row is not None or self.final is not None

    @property
    def to_create(self) -> bool:
        return self.row is None and self.final is not None


@dataclass(frozen=True)
class SegmentChange:
    """One Odoo record the segment created or updated, with what it held before."""

    model: str
    xmlid_name: str
    action: WriteAction
    values: dict[str, Any]
    before: dict[str, Any]
    event: dict[str, Any] | None


@dataclass
class SegmentResult:
    """Per input record its outcome (or why it cannot be mapped), and the changes."""

    outcomes: list[WriteOutcome | UnmappableRecord]
    changes: list[SegmentChange] = field(default_factory=list)


class BatchWriter:
    """Applies segments of enriched records with batched Odoo calls."""

    def __init__(
        self, client: OdooClient, writer: OdooWriter, xmlid_module: str
    ) -> None:
        self._client = client
        # Shared with the one-by-one path: its caches, field ownership and merges.
        self._writer = writer
        self._module = xmlid_module

    def apply(self, events: list[dict[str, Any]]) -> SegmentResult:
        """Apply ``events`` (no merge among them); raises ``OdooError`` on failure."""
        # 1. Plans.
        outcomes: list[WriteOutcome | UnmappableRecord | None] = [None] * len(events)
        plans: dict[int, RecordPlan] = {}
        for index, event in enumerate(events):
            try:
                plan = plan_for(event)
            except UnmappableRecord as error:
                outcomes[index] = error
                continue
            if isinstance(plan, MergePlan):
                raise ValueError("a merge is applied alone, never inside a segment")
            owned = self._writer.owned(plan, event)
            if owned is None:
                outcomes[index] = WriteOutcome(
                    plan.model,
                    plan.xmlid_name,
                    WriteAction.SKIPPED_NOT_OWNER,
                    tuple(plan.values),
                )
                continue
            plans[index] = owned
        result = SegmentResult(outcomes=outcomes)  # type: ignore[arg-type]

        # 2. Stored state of every record and account partner touched.
        accounts = self._account_plans(events, plans)
        wanted = [*accounts.values(), *plans.values()]
        stored = self._stored_by_xmlid(wanted)

        # 3. Account partners, then 4. the records pointing at them.
        partner_ids = self._apply_accounts(events, plans, accounts, stored, result)
        self._apply_records(events, plans, partner_ids, stored, result)
        return result

    # -- finding stored records ----------------------------------------------------

    def _account_plans(
        self, events: list[dict[str, Any]], plans: dict[int, RecordPlan]
    ) -> dict[str, RecordPlan]:
        """A lookup plan for every account partner the segment needs, by account id."""
        accounts: dict[str, RecordPlan] = {}
        for index, plan in plans.items():
            if _is_profile(plan):
                accounts.setdefault(plan.natural_key, plan)
            elif plan.partner_field is not None:
                canonical_id = events[index]["canonical_account_id"]
                accounts.setdefault(
                    canonical_id, placeholder_account_plan(canonical_id)
                )
        return accounts

    def _stored_by_xmlid(
        self, plans: list[RecordPlan]
    ) -> dict[tuple[str, str], dict[str, Any]]:
        """Stored rows by (model, external-id name), adopting rows without one."""
        by_name = {plan.xmlid_name: plan for plan in plans}
        xmlids = self._client.search_read(
            MODEL_DATA,
            [("module", "=", self._module), ("name", "in", sorted(by_name))],
            ["name", "model", "res_id"],
        )
        ids_by_model: dict[str, dict[int, str]] = defaultdict(dict)
        xmlid_rows: dict[str, dict[str, Any]] = {}
        for xmlid in xmlids:
            plan = by_name.get(xmlid["name"])
            xmlid_rows[xmlid["name"]] = xmlid
            if plan is not None and xmlid["model"] == plan.model:
                ids_by_model[plan.model][xmlid["res_id"]] = xmlid["name"]

        stored: dict[tuple[str, str], dict[str, Any]] = {}
        fields_by_model = _read_fields(plans)
        for model, names_by_id in ids_by_model.items():
            rows = self._client.search_read(
                model,
                with_archived(model, [("id", "in", sorted(names_by_id))]),
                fields_by_model[model],
            )
            for row in rows:
                stored[(model, names_by_id[row["id"]])] = row

        # The record behind an external id was deleted in Odoo (or the id names another
        # model): drop the dangling ids so the records are created again.
        dangling = [
            xmlid
            for name, xmlid in xmlid_rows.items()
            if name in by_name and (by_name[name].model, name) not in stored
        ]
        if dangling:
            logger.warning(
                "dropping %d external ids whose records are missing: %s",
                len(dangling),
                sorted(x["name"] for x in dangling),
            )
            self._client.unlink(MODEL_DATA, [x["id"] for x in dangling])
            for xmlid in dangling:
                xmlid_rows.pop(xmlid["name"])

        missing = [plan for name, plan in by_name.items() if name not in xmlid_rows]
        stored |= self._adopt(missing, fields_by_model)
        return stored

    def _adopt(
        self, plans: list[RecordPlan], fields_by_model: dict[str, list[str]]
    ) -> dict[tuple[str, str], dict[str, Any]]:
        """Rows found by business id for plans without external id; ids are created."""
        groups: dict[tuple[str, str], dict[Any, RecordPlan]] = defaultdict(dict)
        for plan in plans:
            groups[(plan.model, plan.natural_key_field)][plan.natural_key] = plan
        adopted: dict[tuple[str, str], dict[str, Any]] = {}
        for (model, key_field), by_key in groups.items():
            rows = self._client.search_read(
                model,
                with_archived(model, [(key_field, "in", sorted(by_key))]),
                sorted({*fields_by_model[model], key_field}),
                order="id",
            )
            for row in rows:
                plan = by_key.get(row[key_field])
                if plan is None or (model, plan.xmlid_name) in adopted:
                    continue  # the oldest row wins, as in the one-by-one writer
                adopted[(model, plan.xmlid_name)] = row
        if adopted:
            logger.warning(
                "adopting %d records without external id (earlier writes' outcome "
                "was unknown): %s",
                len(adopted),
                sorted(name for _, name in adopted),
            )
            self._create_xmlids(
                [(model, name, row["id"]) for (model, name), row in adopted.items()]
            )
        return adopted

    # -- account partners ----------------------------------------------------------

    def _apply_accounts(
        self,
        events: list[dict[str, Any]],
        plans: dict[int, RecordPlan],
        accounts: dict[str, RecordPlan],
        stored: dict[tuple[str, str], dict[str, Any]],
        result: SegmentResult,
    ) -> dict[str, int]:
        """Write account partners as the segment's records, in order, leave them."""
        states = {
            canonical_id: _state(plan, stored)
            for canonical_id, plan in accounts.items()
        }
        for index, plan in plans.items():
            event = events[index]
            if _is_profile(plan):
                state = states[plan.natural_key]
                result.outcomes[index] = _fold(state, plan, event, index)
            elif plan.partner_field is not None:
                state = states[event["canonical_account_id"]]
                if not state.exists:
                    # As the one-by-one writer: a record before its account's profile
                    # creates the partner from its account context.
                    state.final, state.final_event = _context_plan(event), None
                    state.version = state.final.version
                    if "x_source_version" not in state.final.values:
                        state.version = None
        self._write_states(list(states.values()), result)

        partner_ids: dict[str, int] = {}
        for canonical_id, state in states.items():
            row = self._row_after_write(state, stored)
            if row.get("active", True) is False and row.get("x_merged_into"):
                # Absorbed by a merge: follow the pointers (rare; one record's calls).
                partner_ids[canonical_id] = self._writer.account_partner(canonical_id)
            else:
                partner_ids[canonical_id] = row["id"]
        return partner_ids

    def _row_after_write(
        self, state: RecordState, stored: dict[tuple[str, str], dict[str, Any]]
    ) -> dict[str, Any]:
        return stored.get((state.plan.model, state.plan.xmlid_name)) or state.row or {}

    # -- other records -------------------------------------------------------------

    def _apply_records(
        self,
        events: list[dict[str, Any]],
        plans: dict[int, RecordPlan],
        partner_ids: dict[str, int],
        stored: dict[tuple[str, str], dict[str, Any]],
        result: SegmentResult,
    ) -> None:
        currencies = self._currency_ids(
            {p.currency_code.upper() for p in plans.values() if p.currency_code}
        )
        states: dict[tuple[str, str], RecordState] = {}
        for index, plan in plans.items():
            if _is_profile(plan):
                continue
            event = events[index]
            references: dict[str, Any] = {}
            if plan.partner_field is not None:
                references[plan.partner_field] = partner_ids[
                    event["canonical_account_id"]
                ]
            if plan.currency_code is not None:
                code = plan.currency_code.upper()
                if code not in currencies:
                    result.outcomes[index] = UnmappableRecord(
                        event["event_id"],
                        f"{plan.xmlid_name}: currency {code} is not in Odoo",
                    )
                    continue
                references["currency_id"] = currencies[code]
            plan = replace(plan, values={**plan.values, **references})
            key = (plan.model, plan.xmlid_name)
            if key not in states:
                states[key] = _state(plan, stored)
            result.outcomes[index] = _fold(states[key], plan, event, index)
        self._write_states(list(states.values()), result)

    # -- writing -------------------------------------------------------------------

    def _write_states(self, states: list[RecordState], result: SegmentResult) -> None:
        """Create the new records per model, then write the changed ones."""
        creates: dict[str, list[RecordState]] = defaultdict(list)
        writes: dict[tuple[str, str], list[RecordState]] = defaultdict(list)
        for state in states:
            if state.final is None:
                continue
            if state.to_create:
                creates[state.final.model].append(state)
            else:
                values = self._values(state.final)
                writes[(state.final.model, _frozen(values))].append(state)

        for model, group in creates.items():
            vals_list = [
                {**s.final.create_only, **self._values(s.final)}  # type: ignore[union-attr]
                for s in group
            ]
            record_ids = self._client.create(model, vals_list)
            self._create_xmlids(
                [
                    (model, s.plan.xmlid_name, rid)
                    for s, rid in zip(group, record_ids, strict=True)
                ]
            )
            for state, record_id, values in zip(
                group, record_ids, vals_list, strict=True
            ):
                state.row = {"id": record_id, "active": True, "x_merged_into": False}
                result.changes.append(
                    SegmentChange(
                        model,
                        state.plan.xmlid_name,
                        WriteAction.CREATED,
                        values,
                        {},
                        state.final_event,
                    )
                )

        for (model, _), group in writes.items():
            values = self._values(group[0].final)  # type: ignore[arg-type]
            self._client.write(model, [s.row["id"] for s in group], values)  # type: ignore[index]
            for state in group:
                result.changes.append(
                    SegmentChange(
                        model,
                        state.plan.xmlid_name,
                        WriteAction.UPDATED,
                        values,
                        dict(state.row or {}),
                        state.final_event,
                    )
                )

    def _values(self, plan: RecordPlan) -> dict[str, Any]:
        """The plan's values with its country resolved (account profiles only)."""
        if not plan.writes_country:
            return dict(plan.values)
        return {**plan.values, "country_id": self._writer.country_id(plan.country_code)}

    def _create_xmlids(self, rows: list[tuple[str, str, int]]) -> None:
        if not rows:
            return
        self._client.create(
            MODEL_DATA,
            [
                external_id_values(self._module, model, name, record_id)
                for model, name, record_id in rows
            ],
        )

    def _currency_ids(self, codes: set[str]) -> dict[str, int]:
        return self._writer.currency_ids(codes)


def _fold(
    state: RecordState, plan: RecordPlan, event: dict[str, Any], index: int
) -> WriteOutcome:
    """One record through the version guard, as the one-by-one writer would do it."""
    state.indices.append(index)
    if state.exists and state.version is not None and state.version >= plan.version:
        return WriteOutcome(
            plan.model, plan.xmlid_name, WriteAction.SKIPPED_STALE, plan.skipped_fields
        )
    action = WriteAction.UPDATED if state.exists else WriteAction.CREATED
    state.final, state.final_event = plan, event
    state.version = plan.version
    return WriteOutcome(plan.model, plan.xmlid_name, action, plan.skipped_fields)


def _state(
    plan: RecordPlan, stored: dict[tuple[str, str], dict[str, Any]]
) -> RecordState:
    row = stored.get((plan.model, plan.xmlid_name))
    version = None if row is None else stored_version(row)
    return RecordState(plan=plan, row=row, version=version)


def _is_profile(plan: RecordPlan) -> bool:
    return plan.model == PARTNER_MODEL and "x_profile_revision" in plan.values


def _context_plan(event: dict[str, Any]) -> RecordPlan:
    """The partner a record's account context describes, or a placeholder."""
    return account_partner_plan(event["canonical_account_id"], event.get("account"))


def _read_fields(plans: list[RecordPlan]) -> dict[str, list[str]]:
    """Per model: the state fields and every field a plan of the segment writes."""
    fields: dict[str, set[str]] = defaultdict(set)
    for plan in plans:
        fields[plan.model].update(STATE_FIELDS.get(plan.model, DEFAULT_STATE_FIELDS))
        fields[plan.model].update(plan.values)
        if plan.partner_field is not None:
            fields[plan.model].add(plan.partner_field)
    return {model: sorted(names) for model, names in fields.items()}


def _frozen(values: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((name, repr(value)) for name, value in values.items()))
