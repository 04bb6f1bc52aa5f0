"""Which snapshot of a business record is current, and the version the sink sees.

Every record (``<kind>:<record id>``) keeps the ordering key of the snapshot applied so
far. A snapshot is applied only when its key is greater:

``[occurred_at in microseconds, status rank, event-type rank, event id]``

* ``occurred_at`` is the source's own time (Stripe ``created``, Zendesk ``time``, CRM
  ``Last Modified Date``), so delivery order never decides;
* ties within the same instant (Stripe has one-second resolution) go first to the
  invoice status rank (draft < open < paid / uncollectible / void), then to the
  event-type rank (``*.created`` < any change < ``*.deleted``), and last to the event
  id, which is arbitrary but the same on every replay.

An invoice's status never moves backwards: a newer snapshot with a lower status rank is
not applied. A snapshot that is not applied is reported, never silently dropped.

The version published to the sink is separate from the ordering key: it is the event
time in microseconds, raised to one more than the last published version when needed, so
it strictly increases even when a record is re-published for a derived change (a refund
arriving after its invoice).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

INVOICE_STATUS_RANK = {"draft": 0, "open": 1, "paid": 2, "uncollectible": 2, "void": 2}


def invoice_status_rank(status: str | None) -> int:
    return INVOICE_STATUS_RANK.get((status or "").lower(), 0)


def event_type_rank(event_type: str) -> int:
    if event_type.endswith("created"):
        return 0
    if event_type.endswith("deleted"):
        return 2
    return 1


def ordering_key(
    occurred_at: int, event_type: str, event_id: str, status_rank: int = 0
) -> list[Any]:
    return [occurred_at, status_rank, event_type_rank(event_type), event_id]


@dataclass(frozen=True)
class Applied:
    """The snapshot is now the record's state, published under ``version``."""

    version: int
    state: dict[str, Any]
    anchor: str


@dataclass(frozen=True)
class Replayed:
    """The snapshot applied last came again (a restart replay): publish it again."""

    version: int
    state: dict[str, Any]
    anchor: str


@dataclass(frozen=True)
class NotApplied:
    """The snapshot is older than the record's state, or would move its status back."""

    reason: str


Decision = Applied | Replayed | NotApplied


class RecordVersions:
    """Per-record ordering keys, published versions and states.

    Store values: ``record:<kind>:<id>`` -> ``{"order", "status_rank", "version",
    "state", "anchor"}``.
    """

    def __init__(self, store: MutableMapping[str, Any]) -> None:
        self._store = store

    def current(self, record: str) -> dict[str, Any] | None:
        value = self._store.get(f"record:{record}")
        return None if value is None else dict(value)

    def offer(
        self,
        record: str,
        order: list[Any],
        state: dict[str, Any],
        anchor: str,
        status_rank: int = 0,
    ) -> Decision:
        """Apply the snapshot if it is newer than the record's current one."""
        current = self.current(record)
        if current is not None:
            current_order = list(current["order"])
            if order == current_order:
                return Replayed(current["version"], current["state"], current["anchor"])
            if order < current_order:
                return NotApplied(
                    f"{record}: snapshot of event {order[3]} is older than the applied "
                    f"one of event {current_order[3]}"
                )
            if status_rank < int(current["status_rank"]):
                return NotApplied(
                    f"{record}: snapshot of event {order[3]} would move the status "
                    f"backwards from {current['state'].get('status')!r} "
                    f"to {state.get('status')!r}"
                )
        version = self._next_version(current, int(order[0]))
        self._store[f"record:{record}"] = {
            "order": order,
            "status_rank": status_rank,
            "version": version,
            "state": state,
            "anchor": anchor,
        }
        return Applied(version, state, anchor)

    def republish(
        self, record: str, state: dict[str, Any], occurred_at: int
    ) -> Applied:
        """Replace a record's state for a derived change, under a new version.

        The ordering key is kept: a derived change is not a newer source snapshot.
        """
        current = self.current(record)
        if current is None:
            raise KeyError(record)
        version = self._next_version(current, occurred_at)
        self._store[f"record:{record}"] = {
            **current,
            "version": version,
            "state": state,
        }
        return Applied(version, state, current["anchor"])

    @staticmethod
    def _next_version(current: Mapping[str, Any] | None, occurred_at: int) -> int:
        if current is None:
            return occurred_at
        return max(int(current["version"]) + 1, occurred_at)
