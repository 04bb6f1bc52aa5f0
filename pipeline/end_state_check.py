"""Compare the end state the pipeline reached with a corpus's ``expected.json``.

The comparison is per record, so a failure on an unseen corpus reads as a list of precise
differences (which account, which record, which field, expected and actual values) rather
than a single "not equal". Accounts are matched by their source ids, never by label.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SOURCE_ID_FIELDS = (
    "crm_company_ids",
    "stripe_customer_ids",
    "segment_group_ids",
    "zendesk_organization_ids",
)
ACCOUNT_SCALARS = ("display_name", "domain", "country", "vat_number", "linked_to_crm")
ACCOUNT_SETS = (*SOURCE_ID_FIELDS, "flags", "contact_emails", "billing_emails")
# Each list of child records is matched on its key field(s).
CHILD_RECORDS: dict[str, tuple[str, ...]] = {
    "contacts": ("crm_contact_id",),
    "subscriptions": ("subscription_id",),
    "invoices": ("invoice_id",),
    "usage": ("day", "event"),
    "tickets": ("ticket_id",),
}


@dataclass(frozen=True)
class Difference:
    where: str
    expected: Any
    actual: Any

    def __str__(self) -> str:
        return f"{self.where}: expected {self.expected!r}, got {self.actual!r}"


def _label(account: Mapping[str, Any]) -> str:
    for field in SOURCE_ID_FIELDS:
        ids = account.get(field) or []
        if ids:
            return f"account[{field.removesuffix('_ids')}={sorted(ids)[0]}]"
    return f"account[{account.get('display_name')!r}]"


def _source_ids(account: Mapping[str, Any]) -> set[tuple[str, str]]:
    return {
        (field, str(i)) for field in SOURCE_ID_FIELDS for i in account.get(field) or []
    }


def _record_key(record: Mapping[str, Any], key_fields: tuple[str, ...]) -> str:
    return "/".join(str(record.get(field)) for field in key_fields)


def _compare_children(
    where: str,
    expected: Iterable[Mapping[str, Any]],
    actual: Iterable[Mapping[str, Any]],
    key_fields: tuple[str, ...],
) -> list[Difference]:
    expected_by_key = {_record_key(r, key_fields): r for r in expected}
    actual_by_key = {_record_key(r, key_fields): r for r in actual}
    differences: list[Difference] = []
    for key in sorted(expected_by_key.keys() | actual_by_key.keys()):
        want, got = expected_by_key.get(key), actual_by_key.get(key)
        if got is None:
            differences.append(Difference(f"{where}[{key}]", "present", "missing"))
        elif want is None:
            differences.append(
                Difference(f"{where}[{key}]", "absent", "unexpected record")
            )
        else:
            for field in sorted(want.keys() | got.keys()):
                if want.get(field) != got.get(field):
                    differences.append(
                        Difference(
                            f"{where}[{key}].{field}", want.get(field), got.get(field)
                        )
                    )
    return differences


def compare_account(
    expected: Mapping[str, Any], actual: Mapping[str, Any]
) -> list[Difference]:
    where = _label(expected)
    differences = [
        Difference(f"{where}.{field}", expected.get(field), actual.get(field))
        for field in ACCOUNT_SCALARS
        if expected.get(field) != actual.get(field)
    ]
    for field in ACCOUNT_SETS:
        want, got = sorted(expected.get(field) or []), sorted(actual.get(field) or [])
        if want != got:
            differences.append(Difference(f"{where}.{field}", want, got))
    for field, key_fields in CHILD_RECORDS.items():
        differences += _compare_children(
            f"{where}.{field}",
            expected.get(field) or [],
            actual.get(field) or [],
            key_fields,
        )
    return differences


def compare_accounts(
    expected_accounts: list[Mapping[str, Any]], actual_accounts: list[Mapping[str, Any]]
) -> list[Difference]:
    """Match accounts by shared source ids, then compare each matched pair."""
    differences: list[Difference] = []
    unmatched_actual = list(actual_accounts)
    for expected in expected_accounts:
        wanted_ids = _source_ids(expected)
        candidates = [a for a in unmatched_actual if _source_ids(a) & wanted_ids]
        if not candidates:
            differences.append(Difference(_label(expected), "an account", "no account"))
            continue
        best = max(candidates, key=lambda a: len(_source_ids(a) & wanted_ids))
        unmatched_actual.remove(best)
        differences += compare_account(expected, best)
    for extra in unmatched_actual:
        differences.append(Difference(_label(extra), "no account", "an extra account"))
    return differences


def compare_line_sets(
    kind: str,
    expected: list[Mapping[str, Any]],
    actual: list[Mapping[str, Any]],
    fields: tuple[str, ...],
) -> list[Difference]:
    """Compare rejected or duplicate line lists as sets of tuples."""
    want = {tuple(r.get(f) for f in fields) for r in expected}
    got = {tuple(r.get(f) for f in fields) for r in actual}
    return [
        Difference(f"{kind}{dict(zip(fields, row, strict=True))}", "present", "missing")
        for row in sorted(want - got, key=str)
    ] + [
        Difference(
            f"{kind}{dict(zip(fields, row, strict=True))}", "absent", "unexpected"
        )
        for row in sorted(got - want, key=str)
    ]


def compare_end_state(
    expected: Mapping[str, Any],
    actual_accounts: list[Mapping[str, Any]],
    rejected_lines: list[Mapping[str, Any]],
    duplicate_lines: list[Mapping[str, Any]],
) -> list[Difference]:
    """Every difference between ``expected.json`` and what the pipeline produced."""
    return [
        *compare_accounts(expected["accounts"], actual_accounts),
        *compare_line_sets(
            "rejected_line",
            expected.get("rejected_lines", []),
            rejected_lines,
            ("file", "line", "reason"),
        ),
        *compare_line_sets(
            "duplicate_line",
            expected.get("duplicate_lines", []),
            duplicate_lines,
            ("file", "line", "event_id", "first_line"),
        ),
    ]


def physical_line_count(path: Path) -> int:
    """Lines as a text editor counts them: a last line without a newline still counts."""
    data = path.read_bytes()
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def compare_input_lines(
    corpus_dir: Path, expected: Mapping[str, Any]
) -> list[Difference]:
    """The corpus files must be the ones ``expected.json`` was written for: a file with
    fewer or more lines than it declares makes every other comparison doubtful."""
    declared = (expected.get("totals") or {}).get("input_lines") or {}
    differences = []
    for relative, lines in sorted(declared.items()):
        path = corpus_dir / relative
        actual = physical_line_count(path) if path.is_file() else "missing file"
        if actual != lines:
            differences.append(
                Difference(f"totals.input_lines[{relative}]", lines, actual)
            )
    return differences
