"""The correlate stage's output journal: a record read again re-publishes its first
pass, byte for byte, and old entries are dropped as the stream moves on."""

from __future__ import annotations

from typing import Any

from processors.output_journal import OutputJournal


def test_an_offset_never_processed_has_no_journalled_outputs() -> None:
    assert OutputJournal({}).replayed(7) is None


def test_an_offset_processed_with_no_outputs_is_still_known() -> None:
    journal = OutputJournal({})

    journal.record(7, [])

    assert journal.replayed(7) == []


def test_outputs_come_back_as_the_same_bytes_in_the_same_order() -> None:
    store: dict[str, Any] = {}
    outputs = [
        ("enriched", "acct_1", b"\x00\x00\x00\x00\x01profile", {}),
        ("late", "evt_1", bytes(range(256)), {"late-reason": "beyond the grace"}),
    ]

    OutputJournal(store).record(3, outputs)

    # A new journal over the same store stands for the restarted worker.
    assert OutputJournal(store).replayed(3) == outputs


def test_entries_older_than_the_span_are_dropped() -> None:
    store: dict[str, Any] = {}
    journal = OutputJournal(store, span=2)

    for offset in range(5):
        journal.record(offset, [("enriched", "k", b"v", {})])

    assert [journal.replayed(o) is None for o in range(5)] == [
        True,
        True,
        True,
        False,
        False,
    ]
    assert len(store) == 2
