"""Daily product usage: distinct track calls and metered quantity per workspace.

The aggregate key is ``<group id>/<UTC day>/<event name>``. The day is taken from the
call's own timestamp in UTC, never from when it was received, so a call at 23:59:59.9
and one at 00:00:00.1 land on different days.

Each call is counted once by its message id, so replaying a call after a restart does
not inflate the totals. The per-key version is a counter the sink uses to keep the
newest totals.

Store layout: ``totals:<key>`` -> ``{"count", "quantity", "version"}``,
``counted:<key>|<message id>`` -> true.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from processors.envelope import utc_day


@dataclass(frozen=True)
class UsageTotals:
    record_id: str
    group_id: str
    day: str
    event_name: str
    count: int
    quantity: int
    version: int
    replayed: bool

    def as_payload(self) -> dict[str, Any]:
        return {
            "group_id": self.group_id,
            "day": self.day,
            "event_name": self.event_name,
            "count": self.count,
            "quantity": self.quantity,
        }


def usage_record_id(group_id: str, day: str, event_name: str) -> str:
    return f"{group_id}/{day}/{event_name}"


class UsageAggregates:
    """Running totals per workspace, UTC day and event name."""

    def __init__(self, store: MutableMapping[str, Any]) -> None:
        self._store = store

    def count(
        self,
        group_id: str,
        event_name: str,
        occurred_at: int,
        message_id: str,
        quantity: int,
    ) -> UsageTotals:
        """Add one call to its day's totals unless it was already counted."""
        day = utc_day(occurred_at)
        key = usage_record_id(group_id, day, event_name)
        totals = dict(
            self._store.get(f"totals:{key}", {"count": 0, "quantity": 0, "version": 0})
        )
        counted_key = f"counted:{key}|{message_id}"
        replayed = counted_key in self._store
        if not replayed:
            totals = {
                "count": int(totals["count"]) + 1,
                "quantity": int(totals["quantity"]) + int(quantity),
                "version": int(totals["version"]) + 1,
            }
            self._store[f"totals:{key}"] = totals
            self._store[counted_key] = True
        return UsageTotals(
            record_id=key,
            group_id=group_id,
            day=day,
            event_name=event_name,
            count=int(totals["count"]),
            quantity=int(totals["quantity"]),
            version=int(totals["version"]),
            replayed=replayed,
        )
