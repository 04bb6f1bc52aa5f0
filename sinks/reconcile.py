"""Compare what the enriched topic says Odoo should hold with what Odoo holds.

The expected state is the topic folded the way the sink applies it: per Odoo record
(external id) the newest version wins, field ownership filters values, an account's
partner exists from its profile or from the first record that needed it, and merges
leave both partners (the absorbed one archived). Odoo is read through the sink's
external ids. Exceptions, per canonical account (after merges):

* ``missing``: the topic implies the record, Odoo has no record behind its external id;
* ``stale``: Odoo holds an older (or newer) version than the topic's newest, or the
  same version with different values in fields the sink writes (the field names are
  listed, never the values);
* ``extra``: Odoo has an external id of the sink's module that no record implies.

Records that cannot be mapped (they are dead-lettered at once) imply nothing. References
to other records (partner, currency, country) are not compared.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from eventbus import AvroCodec, SchemaCatalogError, Topics, WireFormatError
from pipeline.settings import Settings
from sinks.account_partner import placeholder_account_plan
from sinks.field_ownership import BOOKKEEPING_FIELDS, FieldOwnership
from sinks.odoo_writer import MODEL_DATA, stored_version, with_archived
from sinks.record_mapping import (
    PARTNER_MODEL,
    MergePlan,
    RecordPlan,
    UnmappableRecord,
    account_plan,
    account_xmlid_name,
    plan_for,
)
from sinks.topic_reading import read_topic

if TYPE_CHECKING:
    from sinks.odoo.client import OdooClient

logger = logging.getLogger(__name__)

READ_CHUNK = 500
UNKNOWN_ACCOUNT = "(unknown)"


@dataclass
class Expected:
    plan: RecordPlan
    canonical_id: str
    # None: a placeholder partner, whose existence alone is expected.
    version: int | None


@dataclass(frozen=True)
class ReconcileException:
    kind: str  # missing, stale, extra
    model: str
    external_id: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "model": self.model,
            "external_id": self.external_id,
            "detail": self.detail,
        }


@dataclass
class ReconcileReport:
    records_read: int = 0
    records_expected: int = 0
    by_account: dict[str, list[ReconcileException]] = field(
        default_factory=lambda: defaultdict(list)
    )

    @property
    def exception_count(self) -> int:
        return sum(len(found) for found in self.by_account.values())

    def summary(self) -> dict[str, Any]:
        counts: dict[str, int] = defaultdict(int)
        for found in self.by_account.values():
            for exception in found:
                counts[exception.kind] += 1
        return {
            "records_read": self.records_read,
            "records_expected": self.records_expected,
            "exceptions": self.exception_count,
            "by_kind": dict(sorted(counts.items())),
            "accounts": {
                account: [e.as_dict() for e in found]
                for account, found in sorted(self.by_account.items())
            },
        }


class ExpectedState:
    """The topic folded into the Odoo records it implies."""

    def __init__(self, ownership: FieldOwnership) -> None:
        self._ownership = ownership
        self.records: dict[tuple[str, str], Expected] = {}
        self.merged_into: dict[str, str] = {}

    def add(self, event: dict[str, Any]) -> None:
        try:
            plan = plan_for(event)
        except UnmappableRecord:
            return
        if isinstance(plan, MergePlan):
            self._merge(plan)
            return
        owned = self._ownership.filter(plan, event)
        if owned is None:
            return
        canonical_id = event["canonical_account_id"]
        if owned.partner_field is not None:
            self._need_account(canonical_id, event)
        if owned.model == PARTNER_MODEL and "x_profile_revision" in owned.values:
            canonical_id = owned.natural_key
        key = (owned.model, owned.xmlid_name)
        held = self.records.get(key)
        if held is None or held.version is None or owned.version > held.version:
            self.records[key] = Expected(owned, canonical_id, owned.version)

    def account_of(self, canonical_id: str) -> str:
        seen = {canonical_id}
        while canonical_id in self.merged_into:
            canonical_id = self.merged_into[canonical_id]
            if canonical_id in seen:
                break
            seen.add(canonical_id)
        return canonical_id

    def _need_account(self, canonical_id: str, event: dict[str, Any]) -> None:
        key = (PARTNER_MODEL, account_xmlid_name(canonical_id))
        if key in self.records:
            return
        account = event.get("account") or {}
        if account.get("canonical_account_id") == canonical_id:
            plan = account_plan(account, version=account["revision"])
            owned = self._ownership.filter(plan, event) or plan
            self.records[key] = Expected(owned, canonical_id, owned.version)
        else:
            self._placeholder(canonical_id)

    def _placeholder(self, canonical_id: str) -> None:
        key = (PARTNER_MODEL, account_xmlid_name(canonical_id))
        if key not in self.records:
            plan = placeholder_account_plan(canonical_id)
            self.records[key] = Expected(plan, canonical_id, None)

    def _merge(self, plan: MergePlan) -> None:
        self._placeholder(plan.survivor_id)
        for absorbed in plan.absorbed_ids:
            self._placeholder(absorbed)
            self.merged_into[absorbed] = plan.survivor_id


def reconcile(settings: Settings, client: OdooClient) -> ReconcileReport:
    """Read the enriched topic and Odoo; the exceptions per account."""
    report = ReconcileReport()

    # 1. Fold the topic into the records it implies.
    expected = ExpectedState(
        FieldOwnership.from_file(settings.sink.field_ownership_file)
    )
    codec = AvroCodec(settings.kafka.schema_registry_url)
    topic = Topics(settings.kafka.topic_prefix).enriched
    for message in read_topic(settings, topic, "odoo-sink-reconcile"):
        report.records_read += 1
        try:
            expected.add(codec.decode("EnrichedEvent", message.value()))
        except (WireFormatError, SchemaCatalogError):
            continue
    report.records_expected = len(expected.records)

    # 2. Read what Odoo holds behind the sink's external ids.
    module = settings.odoo.xmlid_module
    xmlids = client.search_read(
        MODEL_DATA, [("module", "=", module)], ["name", "model", "res_id"]
    )
    held = _held_rows(client, xmlids, expected)

    # 3. Compare.
    for key, wanted in expected.records.items():
        account = expected.account_of(wanted.canonical_id)
        found = _compare(key, wanted, held.get(key))
        if found is not None:
            report.by_account[account].append(found)
    for xmlid in xmlids:
        key = (xmlid["model"], xmlid["name"])
        if key not in expected.records:
            report.by_account[UNKNOWN_ACCOUNT].append(
                ReconcileException(
                    "extra",
                    xmlid["model"],
                    f"{module}.{xmlid['name']}",
                    "no record in the topic implies it",
                )
            )
    logger.info(
        "reconciled records_read=%d expected=%d exceptions=%d",
        report.records_read,
        report.records_expected,
        report.exception_count,
    )
    return report


def _held_rows(
    client: OdooClient, xmlids: list[dict[str, Any]], expected: ExpectedState
) -> dict[tuple[str, str], dict[str, Any]]:
    names_by_model: dict[str, dict[int, str]] = defaultdict(dict)
    for xmlid in xmlids:
        names_by_model[xmlid["model"]][xmlid["res_id"]] = xmlid["name"]
    fields_by_model: dict[str, set[str]] = defaultdict(lambda: {"x_source_version"})
    for (model, _), wanted in expected.records.items():
        fields_by_model[model].update(wanted.plan.values)
    held: dict[tuple[str, str], dict[str, Any]] = {}
    for model, names in names_by_model.items():
        ids = sorted(names)
        for start in range(0, len(ids), READ_CHUNK):
            rows = client.search_read(
                model,
                with_archived(model, [("id", "in", ids[start : start + READ_CHUNK])]),
                sorted(fields_by_model[model]),
            )
            for row in rows:
                held[(model, names[row["id"]])] = row
    return held


def _compare(
    key: tuple[str, str], wanted: Expected, row: dict[str, Any] | None
) -> ReconcileException | None:
    model, name = key
    if row is None:
        return ReconcileException("missing", model, name, "not in Odoo")
    if wanted.version is None:
        return None
    held = stored_version(row)
    if held != wanted.version:
        return ReconcileException(
            "stale", model, name, f"Odoo holds version {held}, topic {wanted.version}"
        )
    differing = sorted(
        field_name
        for field_name, value in wanted.plan.values.items()
        if field_name not in BOOKKEEPING_FIELDS
        and not _same(value, row.get(field_name, False))
    )
    if differing:
        return ReconcileException(
            "stale", model, name, f"fields differ: {', '.join(differing)}"
        )
    return None


def _same(expected: Any, held: Any) -> bool:
    if expected in (None, False) or held in (None, False):
        return expected in (None, False) and held in (None, False)
    if isinstance(expected, int | float) and isinstance(held, int | float):
        return float(expected) == float(held)
    return bool(expected == held)
