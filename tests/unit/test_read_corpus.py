"""read_corpus against the corpus oracle: the rejected (file, line, reason) set, and one
outcome for every physical line (every CSV record below the header)."""

from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from eventbus import AvroCodec
from producers.corpus import CORPUS_LAYOUT, read_corpus
from producers.outcomes import AcceptedEvent, RejectedLine

RECEIVED_AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def expected(corpus_dir: Path) -> dict:
    return json.loads((corpus_dir / "expected.json").read_text())


@pytest.fixture(scope="module")
def outcomes(corpus_dir: Path) -> list[AcceptedEvent | RejectedLine]:
    return list(read_corpus(corpus_dir, received_at=RECEIVED_AT))


def _position(outcome: AcceptedEvent | RejectedLine) -> tuple[str, int]:
    if isinstance(outcome, RejectedLine):
        return outcome.record["source_name"], outcome.record["position"]
    delivery = outcome.event["delivery"]
    return delivery["source_name"], delivery["position"]


def test_rejects_exactly_the_listed_lines(outcomes: list, expected: dict) -> None:
    rejected = {
        (o.record["source_name"], o.record["position"], o.record["reason"])
        for o in outcomes
        if isinstance(o, RejectedLine)
    }
    listed = {(r["file"], r["line"], r["reason"]) for r in expected["rejected_lines"]}
    assert rejected == listed


def test_one_outcome_per_physical_line(outcomes: list, expected: dict) -> None:
    per_file = Counter(source_name for source_name, _ in map(_position, outcomes))
    for relative_path, physical_lines in expected["totals"]["input_lines"].items():
        header_lines = 1 if relative_path.endswith(".csv") else 0
        assert per_file[relative_path] == physical_lines - header_lines, relative_path


def test_positions_are_unique_and_cover_each_file(
    outcomes: list, corpus_dir: Path
) -> None:
    positions = [_position(o) for o in outcomes]
    assert len(positions) == len(set(positions))
    for corpus_file in CORPUS_LAYOUT:
        path = corpus_dir / corpus_file.relative_path
        if not path.exists() or path.suffix != ".jsonl":
            continue
        line_count = len(path.read_bytes().splitlines())
        numbers = sorted(
            n for name, n in positions if name == corpus_file.relative_path
        )
        assert numbers == list(range(1, line_count + 1))


def test_csv_records_start_on_their_physical_line(
    outcomes: list, corpus_dir: Path
) -> None:
    for relative_path in ("crm/companies.csv", "crm/contacts.csv"):
        with (corpus_dir / relative_path).open(encoding="utf-8", newline="") as f:
            record_ids_by_line = {}
            reader = csv.reader(f)
            next(reader)
            start = reader.line_num + 1
            for row in reader:
                record_ids_by_line[start] = row[0]
                start = reader.line_num + 1
        for outcome in outcomes:
            name, line = _position(outcome)
            if name == relative_path and isinstance(outcome, AcceptedEvent):
                assert outcome.event["source_object_id"] == record_ids_by_line[line]


def test_every_outcome_encodes_with_the_contract_schemas(outcomes: list) -> None:
    codec = AvroCodec()
    for outcome in outcomes:
        if isinstance(outcome, AcceptedEvent):
            decoded = codec.decode(
                "BusinessEvent", codec.encode("BusinessEvent", outcome.event)
            )
            assert decoded["event_id"] == outcome.event["event_id"]
            assert decoded["account_key"] == outcome.key
            assert decoded["received_at"] == RECEIVED_AT
            assert decoded["delivery"]["channel"] == "file"
        else:
            decoded = codec.decode(
                "RejectedInput", codec.encode("RejectedInput", outcome.record)
            )
            assert decoded["reason"] == outcome.record["reason"]


def test_accepted_events_are_keyed_by_their_anchor(outcomes: list) -> None:
    accepted = [o for o in outcomes if isinstance(o, AcceptedEvent)]
    assert accepted
    for outcome in accepted:
        assert outcome.key == outcome.event["identity"]["anchor"]["id"]
        assert outcome.source_system == outcome.event["source_system"]


def test_rejections_keep_the_raw_input(outcomes: list, corpus_dir: Path) -> None:
    for outcome in outcomes:
        if not isinstance(outcome, RejectedLine):
            continue
        record = outcome.record
        if not record["source_name"].endswith(".jsonl"):
            continue
        path = corpus_dir / record["source_name"]
        line = path.read_bytes().splitlines()[record["position"] - 1]
        assert record["raw"] == line[: len(record["raw"])]
        assert record["raw_truncated"] is (len(line) > len(record["raw"]))


def test_missing_file_is_skipped(tmp_path: Path, corpus_dir: Path) -> None:
    (tmp_path / "crm").mkdir()
    companies = (corpus_dir / "crm" / "companies.csv").read_bytes()
    (tmp_path / "crm" / "companies.csv").write_bytes(companies)
    outcomes = list(read_corpus(tmp_path))
    assert outcomes
    assert {_position(o)[0] for o in outcomes} == {"crm/companies.csv"}


def test_lines_that_cannot_be_encoded_are_rejected_not_raised(tmp_path: Path) -> None:
    (tmp_path / "product").mkdir()
    lines = [
        # A lone surrogate is valid JSON but cannot be written as UTF-8.
        b'{"type": "identify", "messageId": "m\\ud800", "userId": "u\\ud800",'
        b' "timestamp": "2024-01-01T00:00:00Z", "traits": {}}',
        b'{"type": "track", "messageId": "m2", "event": "API Calls Metered",'
        b' "timestamp": "2024-01-01T00:00:00Z", "userId": "u",'
        b' "properties": {"calls": 100000000000000000000000}}',
    ]
    (tmp_path / "product" / "segment_events.jsonl").write_bytes(b"\n".join(lines))
    codec = AvroCodec()

    outcomes = list(read_corpus(tmp_path))

    assert [type(o) for o in outcomes] == [RejectedLine, RejectedLine]
    assert {o.reason for o in outcomes} == {"invalid_payload"}
    for outcome in outcomes:
        codec.encode("RejectedInput", outcome.record)
