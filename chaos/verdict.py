"""The oracle's verdict on a drained pipeline: lost, duplicated, dead-lettered, equal.

* lost: business records (accounts, contacts, subscriptions, invoices, usage rows,
  tickets) that expected.json has and Odoo does not;
* duplicated: Odoo records beyond the first that carry the same business key (two
  partners for one canonical account, two invoices for one invoice id, ...), archived
  ones included, since a lost create answer followed by a retry would make exactly that;
* dead-lettered: poison inputs found in the ingest dead-letter topic; every one that
  expected.json lists must be there with its reason;
* equal: ``compare_end_state`` found no difference at all.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline.demo import collect_rejections_and_duplicates
from pipeline.end_state_check import (
    CHILD_RECORDS,
    Difference,
    _record_key,
    _source_ids,
    compare_end_state,
)
from pipeline.settings import Settings
from sinks.odoo import MethodCall, OdooClient, make_client
from sinks.odoo_state import read_account_views

logger = logging.getLogger(__name__)

# Each synced Odoo model with the field that holds its business key.
BUSINESS_KEYS: tuple[tuple[str, str], ...] = (
    ("res.partner", "x_canonical_account_id"),
    ("res.partner", "x_crm_contact_id"),
    ("sale.order", "x_subscription_id"),
    ("account.move", "x_invoice_id"),
    ("helpdesk.ticket", "x_ticket_id"),
    ("x_product_usage", "x_name"),
)
CHILD_LISTS = ("contacts", "subscriptions", "invoices", "usage", "tickets")


@dataclass
class ScenarioVerdict:
    expected_records: int
    lost: int
    duplicated: int
    dead_lettered: int
    poison_expected: int
    poison_missing: int
    differences: list[Difference] = field(default_factory=list)
    duplicate_keys: dict[str, int] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return (
            not self.differences
            and self.lost == 0
            and self.duplicated == 0
            and self.poison_missing == 0
        )


def expected_record_count(expected: Mapping[str, Any]) -> int:
    """Accounts plus every child record the oracle lists."""
    accounts = expected["accounts"]
    return len(accounts) + sum(
        len(account.get(name) or []) for account in accounts for name in CHILD_LISTS
    )


def judge(settings: Settings, expected: Mapping[str, Any]) -> ScenarioVerdict:
    """Read Odoo and the dead-letter topic and hold them against ``expected``."""
    with make_client(settings.odoo) as client:
        accounts = read_account_views(client)
        duplicate_keys = find_duplicate_keys(client)
    rejected, duplicates = collect_rejections_and_duplicates(settings)
    differences = compare_end_state(expected, accounts, rejected, duplicates)

    expected_poison = {
        (r["file"], r["line"], r["reason"]) for r in expected.get("rejected_lines", [])
    }
    found_poison = {(r["file"], r["line"], r["reason"]) for r in rejected}
    lost = count_lost(expected, accounts)
    verdict = ScenarioVerdict(
        expected_records=expected_record_count(expected),
        lost=lost,
        duplicated=sum(n - 1 for n in duplicate_keys.values()),
        dead_lettered=len(found_poison),
        poison_expected=len(expected_poison),
        poison_missing=len(expected_poison - found_poison),
        differences=differences,
        duplicate_keys=duplicate_keys,
    )
    for difference in differences[:20]:
        logger.warning("end state differs: %s", difference)
    return verdict


def count_lost(expected: Mapping[str, Any], accounts: list[Mapping[str, Any]]) -> int:
    """Expected business records with no counterpart in Odoo.

    Accounts are matched by any shared source id; child records by their key within the
    matched account. A record present with wrong field values is not lost (it shows up
    in the differences instead).
    """
    lost = 0
    for want in expected["accounts"]:
        ids = _source_ids(want)
        got = next((a for a in accounts if ids & _source_ids(a)), None)
        children = sum(len(want.get(name) or []) for name in CHILD_RECORDS)
        if got is None:
            lost += 1 + children
            continue
        for name, key_fields in CHILD_RECORDS.items():
            have = {_record_key(r, key_fields) for r in got.get(name) or []}
            lost += sum(
                1
                for r in want.get(name) or []
                if _record_key(r, key_fields) not in have
            )
    return lost


def find_duplicate_keys(client: OdooClient) -> dict[str, int]:
    """``model.field=value`` -> record count, for keys held by more than one record."""
    duplicated: dict[str, int] = {}
    for model, key_field in BUSINESS_KEYS:
        # Archived records count too: an absorbed account's partner is archived.
        rows = client.execute(
            MethodCall(
                model,
                "search_read",
                None,
                {
                    "domain": [(key_field, "!=", False)],
                    "fields": [key_field],
                    "context": {"active_test": False},
                },
            )
        )
        counts = Counter(row[key_field] for row in rows)
        duplicated |= {
            f"{model}.{key_field}={key}": n for key, n in counts.items() if n > 1
        }
    return duplicated
