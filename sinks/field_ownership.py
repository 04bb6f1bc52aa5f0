"""Which source system may write which Odoo field, and the filter that enforces it.

The rules come from a TOML file (``deploy/field_ownership.toml`` by default, see its
header for the format). ``FieldOwnership.filter`` takes a ``RecordPlan`` and the
enriched record it came from and drops every value the record's source does not own;
the plan remembers the dropped names in ``skipped_fields`` so the sink can count, log
and audit them. A plan left with nothing of its own to write becomes ``None``: the
record is skipped whole.

Where a value comes from:

* a record's fields come from its ``source_system``;
* the account partner is fused by the processors from several systems, so each of its
  fields is attributed to the system it is built from (``ACCOUNT_FIELD_SOURCES``); the
  name comes from the CRM company, else the billing customer, else the helpdesk
  organization, else the workspace, which is the first of those the account has.

A fallback owner (not first in a field's list) may write the field only for an account
that none of the owners before it knows: billing may name an account only while no CRM
company is linked to it.

Never filtered: the external-id bookkeeping every record needs to be found again (its
business id, ``x_source_version``, ``x_profile_revision``, the account's canonical id).
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sinks.record_mapping import PARTNER_MODEL, RecordPlan

logger = logging.getLogger(__name__)

DEFAULT_OWNERSHIP_FILE = (
    Path(__file__).resolve().parents[1] / "deploy" / "field_ownership.toml"
)
SOURCES = ("crm", "billing", "product", "helpdesk")
ALL_FIELDS = "*"
PIPELINE = "pipeline"

# Fields every record needs to be found again; no source rule applies to them.
BOOKKEEPING_FIELDS = frozenset(
    {
        "x_source_version",
        "x_profile_revision",
        "x_canonical_account_id",
        "is_company",
        "type",
        "ref",
    }
)

# Which context field shows that a source knows the account.
_KNOWN_BY = {
    "crm": "linked_to_crm",
    "billing": "billing_customer_ids",
    "product": "product_group_ids",
    "helpdesk": "helpdesk_organization_ids",
}
# The order in which the processors pick an account's name (account_profile.py).
_NAME_SOURCES = ("crm", "billing", "helpdesk", "product")


def _name_source(account: Mapping[str, Any]) -> str:
    return next((s for s in _NAME_SOURCES if account.get(_KNOWN_BY[s])), PIPELINE)


# Account partner fields by the system the processors build them from.
ACCOUNT_FIELD_SOURCES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "name": _name_source,
    "vat": lambda account: "crm",
    "country_id": lambda account: "crm",
    "x_domain": lambda account: "crm",
    "x_crm_company_ids": lambda account: "crm",
    "x_billing_customer_ids": lambda account: "billing",
    "x_billing_emails": lambda account: "billing",
    "x_product_group_ids": lambda account: "product",
    "x_helpdesk_organization_ids": lambda account: "helpdesk",
}


class OwnershipFileError(Exception):
    """The field-ownership file cannot be read, with the file and the reason."""


class _ModelRules(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fields: dict[str, list[str]] = Field(default_factory=dict)


class _OwnershipFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    models: dict[str, _ModelRules] = Field(default_factory=dict)


@dataclass(frozen=True)
class FieldVerdict:
    field: str
    source: str
    owners: tuple[str, ...]


class FieldOwnership:
    """Owners per model and field, and the filter that keeps only owned writes."""

    def __init__(self, owners: Mapping[str, Mapping[str, list[str]]]) -> None:
        self._owners = {
            model: {name: tuple(sources) for name, sources in fields.items()}
            for model, fields in owners.items()
        }

    @classmethod
    def from_file(cls, path: Path | None = None) -> FieldOwnership:
        path = path or DEFAULT_OWNERSHIP_FILE
        try:
            parsed = _OwnershipFile.model_validate(
                tomllib.loads(path.read_text(encoding="utf-8"))
            )
        except (OSError, tomllib.TOMLDecodeError, ValidationError) as error:
            raise OwnershipFileError(f"field ownership {path}: {error}") from error
        for model, rules in parsed.models.items():
            for name, sources in rules.fields.items():
                unknown = sorted(set(sources) - set(SOURCES))
                if unknown or not sources:
                    raise OwnershipFileError(
                        f"field ownership {path}: {model}.{name} names unknown or no "
                        f"sources {unknown}"
                    )
        return cls({model: rules.fields for model, rules in parsed.models.items()})

    def owners(self, model: str, field_name: str) -> tuple[str, ...] | None:
        """The owning sources of a field, or None when the pipeline owns it."""
        rules = self._owners.get(model, {})
        return rules.get(field_name, rules.get(ALL_FIELDS))

    def filter(self, plan: RecordPlan, event: Mapping[str, Any]) -> RecordPlan | None:
        """``plan`` without the values its source does not own (None: nothing left)."""
        account = event.get("account") or {}
        is_account = _is_account_plan(plan)
        kept: dict[str, Any] = {}
        skipped: list[str] = []
        names = [*plan.values, *(["country_id"] if is_account else [])]
        for name in names:
            source = self._source_of(name, event, account, is_account)
            if not self._may_write(plan, name, source, account):
                skipped.append(name)
            elif name in plan.values:
                kept[name] = plan.values[name]
        if not skipped:
            return plan
        logger.warning(
            "source %s does not own %s.%s; skipping the fields of %s",
            event.get("source_system"),
            plan.model,
            ",".join(skipped),
            plan.xmlid_name,
        )
        if not set(kept) - BOOKKEEPING_FIELDS - {plan.natural_key_field}:
            return None
        create_only = dict(plan.create_only)
        if "name" in skipped:
            # Odoo requires a name; a record created without its owner's name is
            # named by its business id until the owner writes it.
            create_only["name"] = plan.natural_key
        return replace(
            plan, values=kept, create_only=create_only, skipped_fields=tuple(skipped)
        )

    def _source_of(
        self,
        name: str,
        event: Mapping[str, Any],
        account: Mapping[str, Any],
        is_account: bool,
    ) -> str:
        if is_account:
            attribute = ACCOUNT_FIELD_SOURCES.get(name)
            return attribute(account) if attribute else PIPELINE
        return str(event.get("source_system") or "")

    def _may_write(
        self, plan: RecordPlan, name: str, source: str, account: Mapping[str, Any]
    ) -> bool:
        if name in BOOKKEEPING_FIELDS or name == plan.natural_key_field:
            return True
        owners = self.owners(plan.model, name)
        if owners is None or source == PIPELINE:
            return True
        if source not in owners:
            return False
        # A fallback owner writes only while no owner before it knows the account.
        earlier = owners[: owners.index(source)]
        return not any(account.get(_KNOWN_BY[s]) for s in earlier)


def _is_account_plan(plan: RecordPlan) -> bool:
    return plan.model == PARTNER_MODEL and "x_profile_revision" in plan.values
