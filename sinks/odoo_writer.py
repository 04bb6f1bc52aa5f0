"""Apply enriched records to Odoo as idempotent upserts by external id.

One record is applied in four steps:

1. find the Odoo record through its external id (``ir.model.data``, module
   ``settings.odoo.xmlid_module``);
2. version guard: read its ``x_source_version``; when the stored version is newer than
   or equal to the record's, nothing is written (``skipped_stale``), which is what makes
   a replay of the topic safe;
3. resolve references: the account partner (following ``x_merged_into`` pointers of
   absorbed accounts, chains included), the currency by upper-case ISO code and the
   country by ISO alpha-2 code;
4. write the values, or create the record and then its external id.

Outcome-unknown writes. Odoo cannot create a record and its ``ir.model.data`` row in one
call across models, so a crash (or a lost HTTP answer) between the two leaves a record
without an external id. Before creating, the writer therefore searches the model by the
record's business id (``x_invoice_id``, ``x_subscription_id``, ``x_ticket_id``,
``x_crm_contact_id``, ``x_canonical_account_id``, ``x_name`` for usage), archived
partners included, and adopts what it finds: it creates the missing external id and
continues with the version guard. Re-delivering the record after a crash thus converges
on one Odoo record. An external id whose record was deleted in Odoo is dropped and the
record is recreated.

Merges archive each absorbed account partner (``active=False``, ``x_merged_into`` = the
survivor's canonical id) and re-point every record that referenced it to the survivor
partner, which is created as a placeholder when its profile has not arrived yet. A merge
is idempotent: applied twice, the second run finds nothing left to change.

Known limit: the guard is read-then-write, not atomic. Two writers applying different
versions of one record at the same moment (the live sink and a replay) can interleave so
that the older one lands last; the next newer version repairs it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sinks.account_partner import account_partner_plan
from sinks.record_mapping import (
    INVOICE_MODEL,
    PARTNER_MODEL,
    SUBSCRIPTION_MODEL,
    TICKET_MODEL,
    USAGE_MODEL,
    MergePlan,
    RecordPlan,
    UnmappableRecord,
    account_xmlid_name,
    plan_for,
)

if TYPE_CHECKING:
    from sinks.field_ownership import FieldOwnership
    from sinks.odoo.client import OdooClient

logger = logging.getLogger(__name__)

MODEL_DATA = "ir.model.data"

# Models with an ``active`` field: their archived records are found only when the
# domain mentions ``active`` (an absorbed account partner is archived).
ARCHIVABLE_MODELS = frozenset({PARTNER_MODEL})

# What the writer reads of a stored record: its version and, for partners, whether it
# was absorbed by a merge. Read in the call that proves the record exists.
STATE_FIELDS = {PARTNER_MODEL: ["x_source_version", "active", "x_merged_into"]}
DEFAULT_STATE_FIELDS = ["x_source_version"]

# Every field that points at an account partner, re-pointed when the account is merged.
PARTNER_REFERENCES = (
    (PARTNER_MODEL, "parent_id"),
    (SUBSCRIPTION_MODEL, "partner_id"),
    (INVOICE_MODEL, "partner_id"),
    (TICKET_MODEL, "partner_id"),
    (USAGE_MODEL, "x_partner_id"),
)


class WriteAction(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    SKIPPED_STALE = "skipped_stale"
    # The record's source owns none of the fields it carries (field_ownership.py).
    SKIPPED_NOT_OWNER = "skipped_not_owner"
    MERGED = "merged"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class WriteOutcome:
    model: str
    xmlid_name: str
    action: WriteAction
    # Fields of the record left unwritten because its source does not own them.
    skipped_fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class WritePreview:
    """What applying a record would do, found by reading Odoo only."""

    external_ids: tuple[str, ...]
    would_apply: bool


class OdooWriter:
    """Upserts enriched records into Odoo through an ``OdooClient``."""

    def __init__(
        self,
        client: OdooClient,
        xmlid_module: str,
        *,
        ownership: FieldOwnership | None = None,
    ) -> None:
        self._client = client
        self._module = xmlid_module
        # None: every source may write every field (tests, tools reading only).
        self.ownership = ownership
        # Repair mode of replay: rewrite a record Odoo holds at the same version (its
        # values were written wrong); an older record is still never written.
        self.rewrite_same_version = False
        self._currency_ids: dict[str, int] = {}
        self._country_ids: dict[str, int | bool] = {}

    def apply(self, event: dict[str, Any]) -> WriteOutcome:
        """Bring Odoo to the state ``event`` describes unless it holds a newer one."""
        plan = plan_for(event)
        if isinstance(plan, MergePlan):
            return self._merge(plan)
        owned = self.owned(plan, event)
        if owned is None:
            return WriteOutcome(
                plan.model,
                plan.xmlid_name,
                WriteAction.SKIPPED_NOT_OWNER,
                tuple(plan.values),
            )
        return self._upsert(owned, event)

    def owned(self, plan: RecordPlan, event: dict[str, Any]) -> RecordPlan | None:
        """``plan`` with only the fields its source owns (None: none of them)."""
        if self.ownership is None:
            return plan
        return self.ownership.filter(plan, event)

    def preview(self, event: dict[str, Any]) -> WritePreview:
        """The external ids ``event`` touches; whether its version would be written."""
        plan = plan_for(event)
        if isinstance(plan, MergePlan):
            names = [
                account_xmlid_name(a) for a in (plan.survivor_id, *plan.absorbed_ids)
            ]
            would_apply = any(
                self._merge_pending(absorbed_id, plan.survivor_id)
                for absorbed_id in plan.absorbed_ids
            )
            return WritePreview(tuple(self._qualified(n) for n in names), would_apply)
        row = self._record_by_xmlid(plan.model, plan.xmlid_name, repair=False)
        if row is None:
            row = self._record_by_natural_key(plan)
        stored = None if row is None else stored_version(row)
        would_apply = stored is None or not self._is_stale(stored, plan.version)
        return WritePreview((self._qualified(plan.xmlid_name),), would_apply)

    # -- upserts -------------------------------------------------------------------

    def _upsert(self, plan: RecordPlan, event: dict[str, Any] | None) -> WriteOutcome:
        # 1. Find the record: external id first, then adopt by business id.
        row = self._find_or_adopt(plan)

        # 2. Version guard.
        if row is not None:
            stored = stored_version(row)
            if stored is not None and self._is_stale(stored, plan.version):
                return WriteOutcome(
                    plan.model,
                    plan.xmlid_name,
                    WriteAction.SKIPPED_STALE,
                    plan.skipped_fields,
                )

        # 3. Resolve references to other records.
        values = {**plan.values, **self._references(plan, event)}

        # 4. Write, or create the record and then its external id.
        if row is not None:
            self._client.write(plan.model, [row["id"]], values)
            return WriteOutcome(
                plan.model, plan.xmlid_name, WriteAction.UPDATED, plan.skipped_fields
            )
        self._create(plan, values)
        return WriteOutcome(
            plan.model, plan.xmlid_name, WriteAction.CREATED, plan.skipped_fields
        )

    def _is_stale(self, stored: int, version: int) -> bool:
        if self.rewrite_same_version:
            return stored > version
        return stored >= version

    def _create(self, plan: RecordPlan, values: dict[str, Any]) -> int:
        """Create the record, then its external id (see the module note on crashes)."""
        [record_id] = self._client.create(plan.model, [{**plan.create_only, **values}])
        self._create_xmlid(plan.model, plan.xmlid_name, record_id)
        return record_id

    def _find_or_adopt(self, plan: RecordPlan) -> dict[str, Any] | None:
        """The stored state of the plan's record, adopting one without external id."""
        row = self._record_by_xmlid(plan.model, plan.xmlid_name)
        if row is not None:
            return row
        row = self._record_by_natural_key(plan)
        if row is not None:
            logger.warning(
                "adopting %s record %s that has no external id %s (earlier write's "
                "outcome was unknown); creating the external id",
                plan.model,
                row["id"],
                plan.xmlid_name,
            )
            self._create_xmlid(plan.model, plan.xmlid_name, row["id"])
        return row

    def _record_by_xmlid(
        self, model: str, name: str, *, repair: bool = True
    ) -> dict[str, Any] | None:
        """The record an external id names; ``repair`` drops an id left dangling."""
        rows = self._client.search_read(
            MODEL_DATA,
            [("module", "=", self._module), ("name", "=", name)],
            ["model", "res_id"],
            limit=1,
        )
        if not rows:
            return None
        xmlid = rows[0]
        if xmlid["model"] == model:
            record = self._stored_state(model, [("id", "=", xmlid["res_id"])])
            if record is not None:
                return record
        if not repair:
            return None
        # The record behind the external id was deleted in Odoo (or the id names
        # another model): drop the dangling id so the record can be created again.
        logger.warning(
            "external id %s points at a missing %s record; dropping it",
            self._qualified(name),
            model,
        )
        self._client.unlink(MODEL_DATA, [xmlid["id"]])
        return None

    def _record_by_natural_key(self, plan: RecordPlan) -> dict[str, Any] | None:
        return self._stored_state(
            plan.model, [(plan.natural_key_field, "=", plan.natural_key)]
        )

    def _stored_state(self, model: str, domain: list[Any]) -> dict[str, Any] | None:
        """The first record matching ``domain`` (archived too), with its state."""
        rows = self._client.search_read(
            model,
            self._with_archived(model, domain),
            STATE_FIELDS.get(model, DEFAULT_STATE_FIELDS),
            limit=1,
            order="id",
        )
        return rows[0] if rows else None

    def _create_xmlid(self, model: str, name: str, record_id: int) -> None:
        self._client.create(
            MODEL_DATA, [external_id_values(self._module, model, name, record_id)]
        )

    # -- references ----------------------------------------------------------------

    def _references(
        self, plan: RecordPlan, event: dict[str, Any] | None
    ) -> dict[str, Any]:
        references: dict[str, Any] = {}
        if plan.partner_field is not None and event is not None:
            partner_id = self.account_partner(
                event["canonical_account_id"], event.get("account")
            )
            references[plan.partner_field] = partner_id
        if plan.currency_code is not None:
            references["currency_id"] = self._currency_id(plan, event)
        if plan.writes_country:
            # Account profiles only; a placeholder partner knows no country yet.
            references["country_id"] = self.country_id(plan.country_code)
        return references

    def account_partner(
        self, canonical_id: str, account: dict[str, Any] | None = None
    ) -> int:
        """The partner that stands for ``canonical_id`` now, following merges.

        A missing partner is created from the account context when the record carries
        the same account, else as a placeholder the account's profile fills later.
        """
        row = self._account_partner_here(canonical_id, account)
        seen = {row["id"]}
        while not row["active"] and row["x_merged_into"]:
            row = self._account_partner_here(row["x_merged_into"], None)
            if row["id"] in seen:
                # A merge cycle cannot come from the processors; stop rather than loop.
                logger.warning(
                    "merge pointers of account %s form a cycle; using partner %s",
                    canonical_id,
                    row["id"],
                )
                break
            seen.add(row["id"])
        return row["id"]

    def _account_partner_here(
        self, canonical_id: str, account: dict[str, Any] | None
    ) -> dict[str, Any]:
        """The partner of exactly ``canonical_id`` (even archived), made if absent."""
        plan = account_partner_plan(canonical_id, account)
        row = self._find_or_adopt(plan)
        if row is not None:
            return row
        logger.info(
            "creating the partner of account %s before its profile", canonical_id
        )
        record_id = self._create(plan, {**plan.values, **self._references(plan, None)})
        return {"id": record_id, "active": True, "x_merged_into": False}

    def _currency_id(self, plan: RecordPlan, event: dict[str, Any] | None) -> int:
        code = (plan.currency_code or "").upper()
        if code not in self._currency_ids:
            domain = self._with_archived_currency([("name", "=", code)])
            ids = self._client.search("res.currency", domain, limit=1)
            if not ids:
                event_id = event["event_id"] if event else plan.xmlid_name
                raise UnmappableRecord(
                    event_id, f"{plan.xmlid_name}: currency {code} is not in Odoo"
                )
            self._currency_ids[code] = ids[0]
        return self._currency_ids[code]

    def currency_ids(self, codes: set[str]) -> dict[str, int]:
        """Ids of the upper-case ISO ``codes`` Odoo has, looked up in one call."""
        unknown = sorted(code for code in codes if code not in self._currency_ids)
        if unknown:
            rows = self._client.search_read(
                "res.currency",
                self._with_archived_currency([("name", "in", unknown)]),
                ["name"],
                order="id",
            )
            for row in rows:
                self._currency_ids.setdefault(row["name"], row["id"])
        return {c: self._currency_ids[c] for c in codes if c in self._currency_ids}

    def country_id(self, country_code: str | None) -> int | bool:
        if not country_code:
            return False
        code = country_code.upper()
        if code not in self._country_ids:
            ids = self._client.search("res.country", [("code", "=", code)], limit=1)
            if not ids:
                # The account is still worth writing; only its country stays empty.
                logger.warning("country %s is not in Odoo; leaving it unset", code)
            self._country_ids[code] = ids[0] if ids else False
        return self._country_ids[code]

    # -- merges --------------------------------------------------------------------

    def _merge(self, plan: MergePlan) -> WriteOutcome:
        survivor_partner = self.account_partner(plan.survivor_id)
        changed = False
        for absorbed_id in plan.absorbed_ids:
            changed |= self._absorb(absorbed_id, plan.survivor_id, survivor_partner)
        action = WriteAction.MERGED if changed else WriteAction.UNCHANGED
        return WriteOutcome(PARTNER_MODEL, account_xmlid_name(plan.survivor_id), action)

    def _absorb(
        self, absorbed_id: str, survivor_id: str, survivor_partner: int
    ) -> bool:
        # 1. The absorbed account's partner (a placeholder when nothing arrived yet,
        #    so later records of the absorbed account find the pointer).
        row = self._account_partner_here(absorbed_id, None)
        absorbed_partner = row["id"]
        if absorbed_partner == survivor_partner:
            return False
        changed = False

        # 2. Archive it, pointing at the survivor.
        if row["active"] or row["x_merged_into"] != survivor_id:
            self._client.write(
                PARTNER_MODEL,
                [absorbed_partner],
                {"active": False, "x_merged_into": survivor_id},
            )
            changed = True

        # 3. Re-point everything that referenced it.
        for model, field_name in PARTNER_REFERENCES:
            domain = self._with_archived(model, [(field_name, "=", absorbed_partner)])
            ids = self._client.search(model, domain)
            if ids:
                self._client.write(model, ids, {field_name: survivor_partner})
                changed = True
        logger.info(
            "account %s merged into %s (partner %s -> %s)",
            absorbed_id,
            survivor_id,
            absorbed_partner,
            survivor_partner,
        )
        return changed

    def _merge_pending(self, absorbed_id: str, survivor_id: str) -> bool:
        """Whether absorbing ``absorbed_id`` would still change anything (read only)."""
        row = self._record_by_xmlid(
            PARTNER_MODEL, account_xmlid_name(absorbed_id), repair=False
        )
        if row is None:
            return True
        if row["active"] or row["x_merged_into"] != survivor_id:
            return True
        return any(
            self._client.search_count(
                model, self._with_archived(model, [(field_name, "=", row["id"])])
            )
            for model, field_name in PARTNER_REFERENCES
        )

    # -- domains -------------------------------------------------------------------

    @staticmethod
    def _with_archived(model: str, domain: list[Any]) -> list[Any]:
        return with_archived(model, domain)

    @staticmethod
    def _with_archived_currency(domain: list[Any]) -> list[Any]:
        # Odoo ships most currencies archived; a pipeline currency may be one of them.
        return [*domain, ("active", "in", [True, False])]

    def _qualified(self, name: str) -> str:
        return f"{self._module}.{name}"


def with_archived(model: str, domain: list[Any]) -> list[Any]:
    """``domain`` that also finds archived records of models with ``active``."""
    if model in ARCHIVABLE_MODELS:
        return [*domain, ("active", "in", [True, False])]
    return domain


def external_id_values(
    module: str, model: str, name: str, record_id: int
) -> dict[str, Any]:
    """The ``ir.model.data`` row that names ``record_id`` ``module.name``, marked
    ``noupdate`` so that Odoo never rewrites the record when it upgrades a module."""
    return {
        "module": module,
        "name": name,
        "model": model,
        "res_id": record_id,
        "noupdate": True,
    }


def stored_version(row: dict[str, Any]) -> int | None:
    stored = row.get("x_source_version")
    # Odoo reads an unset integer as False (a placeholder partner has none).
    return None if stored is False or stored is None else int(stored)
