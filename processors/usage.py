"""Daily product usage: distinct track calls and metered quantity per workspace.

The aggregate key is ``<group id>/<UTC day>/<event name>``. The day is taken from the
call's own timestamp in UTC, never from when it was received, so a call at 23:59:59.9
and one at 00:00:00.1 land on different days.

Each day is a tumbling window that stays open for a grace period after it ends. Time is
measured per workspace: the newest call time seen for that workspace, never a global
watermark, because one workspace's clock says nothing about another's (sources and
generated corpora deliver accounts with unrelated clocks). A call whose day closed more
than the grace ago (for its workspace) is not counted: it is reported as beyond grace
and routed to the late-events topic by the caller. Closed windows are purged with the
message ids counted in them, so state stays bounded by the workspaces' open days.

Each call is counted once by its message id, so replaying a call after a restart does
not inflate the totals. The ids counted in a window are kept in ``COUNTED_BUCKETS``
lists chosen by a checksum of the id: a busy workspace makes tens of thousands of calls
a day, and a single list per window would be rewritten whole on every call and outgrow
the largest record Kafka accepts. An id longer than ``COUNTED_ID_CHARS`` (the source
sets ids, up to the line limit) is kept as its SHA-256, so a few huge ids cannot
outgrow it either. The per-key version is a counter the sink uses to keep the newest
totals. A total that would no longer fit the enriched record's Avro ``long`` refuses
the call (``UsageOverflow``) and leaves the totals as they were.

Store layout: ``totals:<key>`` -> ``{"count", "quantity", "version"}``,
``counted:<key>/<bucket>`` -> message ids counted (digests of long ones),
``clock:<group id>`` -> newest call time (microseconds), ``open:<group id>`` ->
``[key, day]`` of the workspace's open windows. State written before buckets existed
has one ``counted:<key>`` list; it is still read, and purged with its window.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import zlib
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from processors.envelope import utc_day
from processors.exceptions import UsageOverflow

logger = logging.getLogger(__name__)

MICROS_PER_DAY = 86_400 * 1_000_000
COUNTED_BUCKETS = 64
# How far past its receipt a call's own time may move its workspace's clock.
MAX_CLOCK_LEAD_MICROS = MICROS_PER_DAY
# Ids up to this length (UUIDs, Segment message ids) are kept as they are.
COUNTED_ID_CHARS = 64
# Totals travel as Avro longs.
MAX_TOTAL = 2**63 - 1


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


@dataclass(frozen=True)
class BeyondGrace:
    """The call's day closed for its workspace more than the grace period ago."""

    record_id: str
    reason: str


def usage_record_id(group_id: str, day: str, event_name: str) -> str:
    return f"{group_id}/{day}/{event_name}"


def day_closes_at(day: str, grace_micros: int) -> int:
    """When the window of ``day`` (YYYY-MM-DD, UTC) stops accepting calls."""
    return _day_start(day) + MICROS_PER_DAY + grace_micros


@functools.lru_cache(maxsize=4096)
def _day_start(day: str) -> int:
    # Every call checks each open day of its workspace; parsing the date each time was
    # the largest cost of counting a call.
    start = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC)
    return int(start.timestamp()) * 1_000_000


def _counted_bucket(key: str, message_id: str) -> str:
    # A checksum, not hash(): Python salts str hashes per process, and the bucket of
    # an id must be the same after a restart.
    return f"counted:{key}/{zlib.crc32(message_id.encode()) % COUNTED_BUCKETS}"


def _counted_id(message_id: str) -> str:
    """How a counted id is kept in its bucket: itself, or the digest of a long one."""
    if len(message_id) <= COUNTED_ID_CHARS:
        return message_id
    return "sha256:" + hashlib.sha256(message_id.encode()).hexdigest()


def _counted_buckets(key: str) -> list[str]:
    return [f"counted:{key}/{bucket}" for bucket in range(COUNTED_BUCKETS)]


class UsageAggregates:
    """Running totals per workspace, UTC day and event name, in windows with grace."""

    def __init__(
        self, store: MutableMapping[str, Any], grace_days: float = 92.0
    ) -> None:
        self._store = store
        self._grace_micros = int(grace_days * MICROS_PER_DAY)

    def count(
        self,
        group_id: str,
        event_name: str,
        occurred_at: int,
        message_id: str,
        quantity: int,
        received_at: int | None = None,
    ) -> UsageTotals | BeyondGrace:
        """Add one call to its day's totals unless it was already counted or its
        window is closed.

        With ``received_at`` the call moves the workspace's clock no further than
        ``MAX_CLOCK_LEAD_MICROS`` past when it was received: one call from a client
        with a wrong clock (stamped years ahead) would otherwise close every open day
        of its workspace and send each later call to the late-events topic.
        """
        day = utc_day(occurred_at)
        key = usage_record_id(group_id, day, event_name)

        # 1. the workspace's clock, and windows it has closed
        moves_clock_to = occurred_at
        if received_at is not None:
            moves_clock_to = min(occurred_at, received_at + MAX_CLOCK_LEAD_MICROS)
        newest = max(int(self._store.get(f"clock:{group_id}", 0)), moves_clock_to)
        if newest != self._store.get(f"clock:{group_id}"):
            self._store[f"clock:{group_id}"] = newest
        closes_at = day_closes_at(day, self._grace_micros)
        if closes_at < newest:
            self._purge_closed(group_id, newest)
            return BeyondGrace(
                key,
                f"usage {key}: call {message_id} at {occurred_at} is beyond the grace; "
                f"the day closed at {closes_at}, the workspace is at {newest}",
            )

        # 2. the call, once
        totals = dict(
            self._store.get(f"totals:{key}", {"count": 0, "quantity": 0, "version": 0})
        )
        bucket_key = _counted_bucket(key, message_id)
        counted = list(self._store.get(bucket_key, []))
        counted_id = _counted_id(message_id)
        # Long ids counted before digests were kept, and the single list of older
        # state, hold the id as it came.
        replayed = (
            counted_id in counted
            or (counted_id != message_id and message_id in counted)
            or message_id in self._store.get(f"counted:{key}", ())
        )
        if not replayed:
            new_quantity = int(totals["quantity"]) + int(quantity)
            if not -MAX_TOTAL - 1 <= new_quantity <= MAX_TOTAL:
                raise UsageOverflow(key, message_id, int(quantity))
            totals = {
                "count": int(totals["count"]) + 1,
                "quantity": new_quantity,
                "version": int(totals["version"]) + 1,
            }
            self._store[f"totals:{key}"] = totals
            self._store[bucket_key] = [*counted, counted_id]
            self._open(group_id, key, day)

        # 3. windows the clock has closed
        self._purge_closed(group_id, newest)
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

    def _open(self, group_id: str, key: str, day: str) -> None:
        windows = list(self._store.get(f"open:{group_id}", []))
        if [key, day] not in windows:
            self._store[f"open:{group_id}"] = [*windows, [key, day]]

    def _purge_closed(self, group_id: str, newest: int) -> None:
        windows = list(self._store.get(f"open:{group_id}", []))
        closed = [
            (key, day)
            for key, day in windows
            if day_closes_at(day, self._grace_micros) < newest
        ]
        if not closed:
            return
        for key, _ in closed:
            del self._store[f"totals:{key}"]
            for counted_key in (f"counted:{key}", *_counted_buckets(key)):
                if counted_key in self._store:
                    del self._store[counted_key]
        closed_keys = {key for key, _ in closed}
        self._store[f"open:{group_id}"] = [
            w for w in windows if w[0] not in closed_keys
        ]
        logger.debug("usage windows closed", extra={"windows": sorted(closed_keys)})
