"""The correlate journal's span slots under hostile conditions: a span that cannot hold
an entry, entries whose part count grows and shrinks as they overwrite one another,
offsets that skip (transaction markers, compaction), and entries whose parts are as
large as they get once the table encodes them."""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest

from processors import correlate_state
from processors.correlate_state import CorrelateState
from tests.support.changelog_table import LoggedTable as ChangelogTable

# A Kafka record's default size limit, with room for the key and the framing.
KAFKA_RECORD_BYTES = 1_000_000


Outputs = list[tuple[str, str, bytes, dict[str, str]]]


def process(state: CorrelateState, offset: int) -> Outputs:
    """One record whose entry size depends on its offset: from one part to several."""
    store = state.namespace("records/")
    store["count"] = store.get("count", 0) + 1
    store[f"seen:{offset}"] = "x" * ((offset * 37) % 200)
    outputs = [("enriched", f"k{offset}", bytes([offset % 256]) * (offset % 90), {})]
    state.commit(offset, outputs)
    return outputs


def state_of(table: ChangelogTable) -> dict[str, Any]:
    return {k: v for k, v in table.data.items() if not k.startswith("journal/")}


@pytest.mark.parametrize("span", [0, -3])
def test_a_span_that_holds_no_entry_is_refused_when_the_state_is_made(
    span: int,
) -> None:
    with pytest.raises(ValueError, match="journal span"):
        CorrelateState(ChangelogTable(), journal_span=span)


@pytest.mark.parametrize("stride", [1, 2, 3])
def test_entries_of_changing_size_over_skipping_offsets_survive_a_crash_anywhere(
    stride: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Parts of 40 characters: an entry takes from two to a dozen parts, so a slot's
    # entry grows and shrinks as it is overwritten. Three slots, and at most two
    # records processed after the last commit.
    monkeypatch.setattr(correlate_state, "ENTRY_PART_CHARS", 40)
    span = 3 * stride
    offsets = list(range(0, 12 * stride, stride))
    clean = ChangelogTable()
    clean_state = CorrelateState(clean, journal_span=span)
    sent_clean = [process(clean_state, offset) for offset in offsets]

    for crash_after in range(len(clean.writes)):
        survived = ChangelogTable(clean.writes[:crash_after])
        finished = sum(1 for k, _ in clean.writes[:crash_after] if "seen:" in k)
        first_uncommitted = max(0, finished - 2)
        state = CorrelateState(survived, journal_span=span)
        sent = sent_clean[:first_uncommitted]
        for offset in offsets[first_uncommitted:]:
            outputs = state.replayed(offset)
            sent.append(outputs if outputs is not None else process(state, offset))

        assert sent == sent_clean, f"crash after write {crash_after}"
        assert state_of(survived) == state_of(clean), f"crash after write {crash_after}"


def test_every_part_of_the_largest_entry_fits_a_kafka_record_once_encoded() -> None:
    # Quotes and backslashes double when the table encodes the part as a JSON string;
    # non-ASCII text becomes \u escapes first.
    rng = random.Random(7)
    table = ChangelogTable()
    state = CorrelateState(table)
    store = state.namespace("records/")
    store["quotes"] = '"\\' * 300_000
    store["accents"] = "é€𝄞" * 100_000
    outputs = [
        ("enriched", "k", rng.randbytes(700_000), {"note": '"' * 50_000 + "ø" * 9})
    ]

    state.commit(5, outputs)

    journal = [(k, v) for k, v in table.writes if k.startswith("journal/")]
    assert len(journal) > 4
    for key, value in journal:
        assert len(orjson.dumps(key) + orjson.dumps(value)) < KAFKA_RECORD_BYTES, key
    assert CorrelateState(table).replayed(5) == outputs
