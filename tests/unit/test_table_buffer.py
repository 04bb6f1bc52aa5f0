"""The per-event table buffer: reads served once, each changed key written once, a
failed event's changes dropped, and the correlator's results unchanged by it."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

import pytest

from pipeline.settings import ProcessorSettings
from processors.correlate import Correlator, CorrelatorStores
from processors.table_buffer import TableBuffer


class CountingTable(MutableMapping[str, Any]):
    """A dict that counts the reads and writes reaching it, like a Faust table would."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.reads = 0
        self.writes = 0

    def __getitem__(self, key: str) -> Any:
        self.reads += 1
        return self.data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.writes += 1
        self.data[key] = value

    def __delitem__(self, key: str) -> None:
        self.writes += 1
        del self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


def test_repeated_reads_reach_the_table_once() -> None:
    table = CountingTable()
    table.data["a"] = 1
    buffer = TableBuffer(table)

    assert [buffer.get("a"), buffer["a"], "a" in buffer, buffer.get("b")] == [
        1,
        1,
        True,
        None,
    ]
    assert "b" not in buffer
    assert table.reads <= 2


def test_a_key_changed_many_times_is_written_once_with_its_last_value() -> None:
    table = CountingTable()
    buffer = TableBuffer(table)

    for sequence in range(5):
        buffer["sequence"] = sequence
    buffer["other"] = "x"

    assert table.writes == 0
    assert buffer.flush() == 2
    assert table.data == {"sequence": 4, "other": "x"}
    assert table.writes == 2


def test_deletes_reach_the_table_and_hide_the_key_before_the_flush() -> None:
    table = CountingTable()
    table.data.update({"gone": 1, "kept": 2})
    buffer = TableBuffer(table)

    del buffer["gone"]

    assert "gone" not in buffer
    assert sorted(buffer) == ["kept"]
    with pytest.raises(KeyError):
        del buffer["gone"]
    buffer.flush()
    assert table.data == {"kept": 2}


def test_a_discarded_event_leaves_the_table_untouched() -> None:
    table = CountingTable()
    table.data["a"] = 1
    buffer = TableBuffer(table)
    buffer["a"] = 2
    buffer["b"] = 3

    buffer.discard()

    assert buffer.flush() == 0
    assert table.data == {"a": 1}


def test_the_next_event_reads_what_the_last_one_flushed() -> None:
    table = CountingTable()
    buffer = TableBuffer(table)
    buffer["a"] = 1
    buffer.flush()
    table.data["a"] = 5

    assert buffer["a"] == 5


def _correlated_records(events: list[dict[str, Any]], buffered: bool) -> list[Any]:
    tables = [CountingTable() for _ in range(4)]
    stores = [TableBuffer(t) for t in tables] if buffered else tables
    correlator = Correlator(CorrelatorStores(*stores), ProcessorSettings())
    outputs = []
    for event in events:
        outputs.append(correlator.process(event))
        for store in stores:
            if isinstance(store, TableBuffer):
                store.flush()
    return [outputs, [t.data for t in tables]]


def test_the_correlator_publishes_and_stores_the_same_through_buffers(
    corpus_dir: Any,
) -> None:
    from producers.corpus import read_corpus
    from producers.outcomes import AcceptedEvent

    events = [o.event for o in read_corpus(corpus_dir) if isinstance(o, AcceptedEvent)]

    assert _correlated_records(events, buffered=True) == _correlated_records(
        events, buffered=False
    )
