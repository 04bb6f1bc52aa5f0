"""Dropping redeliveries: a ledger of event identities already accepted.

The identity of an event is its source's own id (``<source_system>:<event_id>``), never
a hash of its bytes: redeliveries differ in delivery metadata (``pending_webhooks``,
``sentAt``, key order), and the same content under a new id is a new event.

Identities are remembered for a retention window measured on ``received_at``. It must
outlast the senders' retry horizon (Stripe retries for three days; the default is seven)
and it keeps the ledger bounded: ``purge`` drops identities older than the window.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from processors.envelope import delivery_of, to_micros

logger = logging.getLogger(__name__)

MICROS_PER_DAY = 86_400 * 1_000_000


@dataclass(frozen=True)
class FirstSeen:
    """The first accepted delivery of an event: pass it on."""

    ledger_key: str


@dataclass(frozen=True)
class Duplicate:
    """A redelivery of an event already accepted: drop it."""

    ledger_key: str
    first_delivery: dict[str, Any] | None
    first_received_at: int


DedupVerdict = FirstSeen | Duplicate


def ledger_key(event: Mapping[str, Any]) -> str:
    return f"{event['source_system']}:{event['event_id']}"


class DedupLedger:
    """Remembers, per event identity, the first accepted delivery and when it arrived.

    Store values are ``{"delivery": Delivery | None, "received_at": micros, "shard": int
    | None}``. ``shard`` names the input partition the identity was recorded for: a
    partitioned store (a Faust table) may only drop entries of the partition it is
    processing, so ``purge`` can be limited to one shard.
    """

    def __init__(
        self, store: MutableMapping[str, Any], retention_days: float = 7.0
    ) -> None:
        self._store = store
        self._retention_micros = int(retention_days * MICROS_PER_DAY)

    def check(self, event: Mapping[str, Any], shard: int | None = None) -> DedupVerdict:
        """Record the event if it is new; say whether it was already accepted."""
        key = ledger_key(event)
        received_at = to_micros(event["received_at"])
        delivery = delivery_of(event)
        entry = self._store.get(key)

        if entry is not None and not self._expired(entry, received_at):
            if self._is_same_delivery(entry, delivery, received_at):
                # The very record we accepted before, read again after a restart
                # (at-least-once): it is not a redelivery by the sender, so it goes on.
                return FirstSeen(key)
            return Duplicate(key, entry["delivery"], entry["received_at"])

        self._store[key] = {
            "delivery": delivery,
            "received_at": received_at,
            "shard": shard,
        }
        return FirstSeen(key)

    def purge(self, now: int, shard: int | None = None) -> int:
        """Forget identities first received more than the window before ``now``.

        With ``shard`` only identities recorded for that shard are considered. The
        ledger is read one entry at a time and only the expired keys are kept: a copy
        of the whole ledger (a million identities at a million events) would make the
        worker's memory grow with every event it ever accepted.
        """
        expired = [
            key
            for key, entry in self._store.items()
            if self._expired(entry, now)
            and (shard is None or entry.get("shard") == shard)
        ]
        for key in expired:
            del self._store[key]
        if expired:
            logger.info("dedup ledger purged %d expired identities", len(expired))
        return len(expired)

    def _expired(self, entry: Mapping[str, Any], now: int) -> bool:
        return now - int(entry["received_at"]) > self._retention_micros

    @staticmethod
    def _is_same_delivery(
        entry: Mapping[str, Any], delivery: dict[str, Any] | None, received_at: int
    ) -> bool:
        return entry["delivery"] == delivery and entry["received_at"] == received_at
