"""The correlate stage's state: a record's write-ahead entry reaches the table before
its changes, a record read again restores its changes and re-sends its outputs byte for
byte, and a crash at any write leaves a prefix that recovers to the same state."""

from __future__ import annotations

from typing import Any

import pytest

from processors import correlate_state
from processors.correlate_state import DEFAULT_JOURNAL_SPAN, CorrelateState
from tests.support.changelog_table import LoggedTable

Outputs = list[tuple[str, str, bytes, dict]]


def process(state: CorrelateState, offset: int) -> Outputs:
    """A stand-in for one record: two state changes and one output."""
    counters = state.namespace("records/")
    counters["count"] = counters.get("count", 0) + 1
    counters[f"seen:{offset}"] = True
    outputs = [("enriched", f"k{offset}", bytes([offset]) * 4, {"traceparent": "x"})]
    state.commit(offset, outputs)
    return outputs


def uninterrupted_run(
    records: int, journal_span: int = DEFAULT_JOURNAL_SPAN
) -> tuple[LoggedTable, list[Outputs]]:
    """The table and the outputs of ``records`` records processed without a crash."""
    table = LoggedTable()
    state = CorrelateState(table, journal_span=journal_span)
    return table, [process(state, offset) for offset in range(records)]


def read_again(state: CorrelateState, offsets: range) -> list[Outputs]:
    """Records read again after a restart: one whose entry survived re-sends its
    outputs from the entry, any other is processed anew."""
    sent: list[Outputs] = []
    for offset in offsets:
        outputs = state.replayed(offset)
        sent.append(outputs if outputs is not None else process(state, offset))
    return sent


def test_the_entry_is_written_before_the_changes() -> None:
    table = LoggedTable()

    process(CorrelateState(table), 0)

    assert [key for key, _ in table.writes] == [
        "journal/0",
        "records/count",
        "records/seen:0",
    ]


def test_a_record_read_again_restores_its_changes_and_outputs() -> None:
    table = LoggedTable()
    first = process(CorrelateState(table), 0)
    del table["records/seen:0"]

    again = CorrelateState(table).replayed(0)

    assert again == first
    assert table["records/seen:0"] is True
    assert CorrelateState(table).replayed(1) is None


@pytest.mark.parametrize("crash_after", range(0, 10))
def test_a_crash_at_any_write_recovers_to_the_uninterrupted_state(
    crash_after: int,
) -> None:
    clean, sent_clean = uninterrupted_run(3)

    # The table as the changelog kept it: a prefix of the writes.
    survived = LoggedTable(clean.writes[:crash_after])
    # Restart from offset 0 (nothing committed): every record is read again.
    sent = read_again(CorrelateState(survived), range(3))

    assert sent == sent_clean
    assert survived.data == clean.data


def test_an_entry_replaces_the_one_a_span_back_and_only_that_one() -> None:
    table = LoggedTable()
    state = CorrelateState(table, journal_span=2)
    sent = [process(state, offset) for offset in range(5)]

    assert sorted(k for k in table.data if k.startswith("journal/")) == [
        "journal/0",
        "journal/1",
    ]
    assert not any(value is None for key, value in table.writes), "nothing deleted"
    assert [state.replayed(offset) for offset in range(3)] == [None, None, None]
    assert [state.replayed(offset) for offset in (3, 4)] == sent[3:]


def test_a_rollback_keeps_the_changes_before_the_savepoint() -> None:
    table = LoggedTable()
    state = CorrelateState(table)
    store = state.namespace("records/")
    store["kept"] = 1
    savepoint = state.savepoint()
    store["dropped"] = 2

    state.rollback(savepoint)
    state.commit(0, [])

    assert table.data["records/kept"] == 1
    assert "records/dropped" not in table.data


def test_a_large_entry_is_written_in_parts_with_its_head_last(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(correlate_state, "ENTRY_PART_CHARS", 40)
    table = LoggedTable()

    outputs = process(CorrelateState(table), 0)

    keys = [key for key, _ in table.writes]
    head = keys.index("journal/0")
    assert head > 1, "the entry fits one part: the test does not split it"
    assert all(key.startswith("journal/0/") for key in keys[:head])
    assert keys[head + 1 :] == ["records/count", "records/seen:0"]
    assert CorrelateState(table).replayed(0) == outputs


@pytest.mark.parametrize("crash_after", range(0, 40))
def test_a_crash_while_parts_are_written_recovers_to_the_uninterrupted_state(
    crash_after: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(correlate_state, "ENTRY_PART_CHARS", 40)
    clean, sent_clean = uninterrupted_run(3)

    survived = LoggedTable(clean.writes[:crash_after])
    sent = read_again(CorrelateState(survived), range(3))

    assert sent == sent_clean
    assert {k: v for k, v in survived.data.items() if not k.startswith("journal/")} == {
        k: v for k, v in clean.data.items() if not k.startswith("journal/")
    }


def test_a_crash_while_a_slot_is_overwritten_recovers_to_the_uninterrupted_state(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Entries in parts, two slots for five records: every entry after the second
    # overwrites an older one.
    monkeypatch.setattr(correlate_state, "ENTRY_PART_CHARS", 40)
    clean, sent_clean = uninterrupted_run(5, journal_span=2)
    assert len([k for k, _ in clean.writes if k.startswith("journal/0/")]) > 2

    for crash_after in range(len(clean.writes)):
        _recover_after_crash(clean, sent_clean, crash_after)


def _recover_after_crash(
    clean: LoggedTable, sent_clean: list[Any], crash_after: int
) -> None:
    survived = LoggedTable(clean.writes[:crash_after])
    state = CorrelateState(survived, journal_span=2)
    # Records before the last two were committed: a restart reads from there.
    first_uncommitted = max(0, _records_fully_written(clean.writes[:crash_after]) - 1)
    sent = sent_clean[:first_uncommitted] + read_again(
        state, range(first_uncommitted, 5)
    )

    assert sent == sent_clean, f"crash after write {crash_after}"
    assert {k: v for k, v in survived.data.items() if not k.startswith("journal/")} == {
        k: v for k, v in clean.data.items() if not k.startswith("journal/")
    }, f"crash after write {crash_after}"


def _records_fully_written(writes: list[tuple[str, Any]]) -> int:
    """How many records' last change (``records/seen:<offset>``) is in ``writes``."""
    return sum(1 for key, _ in writes if key.startswith("records/seen:"))
