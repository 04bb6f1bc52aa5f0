"""The dedup ledger: identity by source event id, a retention window on received_at."""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from typing import Any

from processors.dedup import MICROS_PER_DAY, DedupLedger, Duplicate, FirstSeen

T0 = 1_730_000_000_000_000


def delivered(
    event_id: str,
    line: int,
    received_at: int = T0,
    source_system: str = "billing",
    body: str = "same",
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "source_system": source_system,
        "received_at": received_at,
        "delivery": {
            "channel": "file",
            "source_name": "billing/events.jsonl",
            "position": line,
        },
        "payload": ("pipeline.Charge", {"body": body}),
    }


def test_first_delivery_is_accepted_and_redelivery_is_a_duplicate() -> None:
    ledger = DedupLedger({})

    first = ledger.check(delivered("evt_1", line=3))
    again = ledger.check(delivered("evt_1", line=9, received_at=T0 + 5))

    assert isinstance(first, FirstSeen)
    assert isinstance(again, Duplicate)
    assert again.first_delivery == {
        "channel": "file",
        "source_name": "billing/events.jsonl",
        "position": 3,
    }


def test_byte_different_redelivery_with_the_same_id_is_a_duplicate() -> None:
    ledger = DedupLedger({})
    ledger.check(delivered("evt_1", line=1, body="pending_webhooks=1"))

    verdict = ledger.check(delivered("evt_1", line=2, body="pending_webhooks=2"))

    assert isinstance(verdict, Duplicate)


def test_same_content_under_a_new_id_is_not_a_duplicate() -> None:
    ledger = DedupLedger({})
    ledger.check(delivered("evt_1", line=1))

    assert isinstance(ledger.check(delivered("evt_2", line=2)), FirstSeen)


def test_same_id_from_another_source_system_is_not_a_duplicate() -> None:
    ledger = DedupLedger({})
    ledger.check(delivered("42", line=1, source_system="billing"))

    verdict = ledger.check(delivered("42", line=1, source_system="helpdesk"))

    assert isinstance(verdict, FirstSeen)


def test_replay_of_the_accepted_record_itself_passes_again() -> None:
    ledger = DedupLedger({})
    ledger.check(delivered("evt_1", line=1))

    # The same Kafka record read again after a restart: same delivery, same stamp.
    assert isinstance(ledger.check(delivered("evt_1", line=1)), FirstSeen)


def test_redelivery_within_the_retry_horizon_is_still_a_duplicate() -> None:
    ledger = DedupLedger({}, retention_days=7)
    ledger.check(delivered("evt_1", line=1))

    verdict = ledger.check(delivered("evt_1", 2, received_at=T0 + 3 * MICROS_PER_DAY))

    assert isinstance(verdict, Duplicate)


def test_identity_older_than_the_window_is_forgotten() -> None:
    ledger = DedupLedger({}, retention_days=7)
    ledger.check(delivered("evt_1", line=1))

    verdict = ledger.check(delivered("evt_1", 2, received_at=T0 + 8 * MICROS_PER_DAY))

    assert isinstance(verdict, FirstSeen)


def test_purge_drops_only_expired_identities() -> None:
    store: dict[str, Any] = {}
    ledger = DedupLedger(store, retention_days=7)
    ledger.check(delivered("old", line=1, received_at=T0))
    ledger.check(delivered("new", line=2, received_at=T0 + 5 * MICROS_PER_DAY))

    purged = ledger.purge(now=T0 + 8 * MICROS_PER_DAY)

    assert purged == 1
    assert list(store) == ["billing:new"]
    assert isinstance(
        ledger.check(delivered("new", 3, T0 + 9 * MICROS_PER_DAY)), Duplicate
    )


def test_purge_of_one_shard_leaves_other_shards_alone() -> None:
    store: dict[str, Any] = {}
    ledger = DedupLedger(store, retention_days=7)
    ledger.check(delivered("a", line=1), shard=0)
    ledger.check(delivered("b", line=2), shard=1)

    purged = ledger.purge(now=T0 + 8 * MICROS_PER_DAY, shard=1)

    assert purged == 1
    assert list(store) == ["billing:a"]


class _Entry(dict[str, Any]):
    """A ledger value that can be watched with a weak reference."""


class _DecodingStore(dict[str, Any]):
    """Hands out a freshly decoded value per entry, as a table on disk does, and
    records how many of the values it handed out were alive at once."""

    def __init__(self, entries: dict[str, dict[str, Any]]) -> None:
        super().__init__(entries)
        self.most_alive = 0

    def items(self) -> Iterator[tuple[str, Any]]:  # type: ignore[override]
        alive = [0]

        def released() -> None:
            alive[0] -= 1

        for key, value in list(super().items()):
            decoded = _Entry(value)
            weakref.finalize(decoded, released)
            alive[0] += 1
            self.most_alive = max(self.most_alive, alive[0])
            yield key, decoded


def test_purge_reads_the_ledger_one_entry_at_a_time() -> None:
    entries = {
        f"billing:evt_{n}": {"delivery": None, "received_at": T0 + n, "shard": 0}
        for n in range(1_000)
    }
    store = _DecodingStore(entries)
    ledger = DedupLedger(store, retention_days=7)

    purged = ledger.purge(now=T0 + 1_000 + 8 * MICROS_PER_DAY, shard=0)

    assert purged == 1_000
    assert len(store) == 0
    # A copy of the whole ledger would keep all 1,000 decoded values alive at once.
    assert store.most_alive <= 2
