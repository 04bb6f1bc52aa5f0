"""The expected state: accounts streamed to disk as they are decided, lines tallied.

Accounts go to a scratch file one by one so memory does not grow with the corpus; the
final ``expected.json`` is stitched from it at the end.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, TextIO

from loadgen.conventions import FREE_MAIL_DOMAIN


class ExpectedState:
    def __init__(self, out_dir: Path, seed: int) -> None:
        self._out_dir = out_dir
        self._seed = seed
        self._scratch_path = out_dir / ".expected-accounts.part"
        self._scratch: TextIO = self._scratch_path.open("w", encoding="utf-8")
        self.rejected: list[dict[str, Any]] = []
        self.duplicates: list[dict[str, Any]] = []
        self.accounts = 0
        self._counts = {
            "accounts_linked_to_crm": 0,
            "subscriptions": 0,
            "invoices": 0,
            "tickets": 0,
            "usage_events": 0,
            "usage_quantity": 0,
        }

    def add_account(self, account: dict[str, Any]) -> None:
        self.accounts += 1
        ordered = {"account_ref": f"A{self.accounts}", **account}
        counts = self._counts
        counts["accounts_linked_to_crm"] += int(account["linked_to_crm"])
        counts["subscriptions"] += len(account["subscriptions"])
        counts["invoices"] += len(account["invoices"])
        counts["tickets"] += len(account["tickets"])
        counts["usage_events"] += sum(u["count"] for u in account["usage"])
        counts["usage_quantity"] += sum(u["quantity"] for u in account["usage"])
        if self.accounts > 1:
            self._scratch.write(",\n")
        self._scratch.write(json.dumps(ordered, ensure_ascii=False))

    def reject(self, file: str, line: int, reason: str) -> None:
        self.rejected.append({"file": file, "line": line, "reason": reason})

    def duplicate(self, file: str, line: int, event_id: str, first_line: int) -> None:
        self.duplicates.append(
            {"file": file, "line": line, "event_id": event_id, "first_line": first_line}
        )

    def write(self, input_lines: dict[str, int]) -> Path:
        self._scratch.close()
        key = lambda entry: (entry["file"], entry["line"])  # noqa: E731
        totals = {
            "input_lines": input_lines,
            "rejected_lines": len(self.rejected),
            "duplicate_lines": len(self.duplicates),
            "accounts": self.accounts,
            **self._counts,
        }
        head = {
            "schema_version": 1,
            "corpus": f"loadgen seed={self._seed}",
            "conventions": _conventions(),
        }
        target = self._out_dir / "expected.json"
        with target.open("w", encoding="utf-8") as stream:
            stream.write(json.dumps(head, ensure_ascii=False, indent=2)[:-2])
            stream.write(',\n  "accounts": [\n')
            with self._scratch_path.open(encoding="utf-8") as scratch:
                shutil.copyfileobj(scratch, stream)
            stream.write("\n  ],\n")
            tail = {
                "rejected_lines": sorted(self.rejected, key=key),
                "duplicate_lines": sorted(self.duplicates, key=key),
                "totals": totals,
            }
            stream.write(json.dumps(tail, ensure_ascii=False, indent=2)[2:])
            stream.write("\n")
        self._scratch_path.unlink()
        return target


def _conventions() -> dict[str, Any]:
    return {
        "line_numbers": "1-based physical line numbers in the delivered file; for CSV files the header is line 1",
        "amounts": "integer minor units exactly as in the source",
        "currency": "lowercase ISO-4217 code",
        "email_normalization": "strip surrounding whitespace, then lowercase the whole address",
        "free_mail_domains": [FREE_MAIL_DOMAIN],
        "usage_day": "UTC calendar date of the Segment `timestamp` field (after applying any UTC offset it carries)",
        "usage_count": "number of distinct accepted track events (by messageId)",
        "usage_quantity": 'properties.calls for "API Calls Metered", properties.seats_added for "Seat Added", 1 for any other event',
        "payment_status": "paid | not_paid | refunded | partially_refunded",
        "country": "ISO-3166 alpha-2, mapped from the CRM Country/Region name",
        "ticket_status_priority": "lowercase; priority is null when never set",
        "zendesk_ids": "strings",
        "duplicates": "a line whose event id was already seen on an earlier accepted line",
    }
