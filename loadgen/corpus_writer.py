"""Writes a whole corpus: accounts in small groups, each group merged by event time."""

from __future__ import annotations

import gc
import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from loadgen.account_history import AccountBuilder, AccountRecords
from loadgen.conventions import AGENTS
from loadgen.crm_rows import COMPANY_HEADER, CONTACT_HEADER, CsvExport
from loadgen.delivery import DeliveryLane
from loadgen.exceptions import OutputNotWritable
from loadgen.identifiers import IdMint
from loadgen.oracle import ExpectedState
from loadgen.parameters import GenerationParameters
from loadgen.timeline import EVENT_FILES, TimedEvent

logger = logging.getLogger(__name__)

COMPANIES = "crm/companies.csv"
CONTACTS = "crm/contacts.csv"
USERS = "helpdesk/users.jsonl"
ORGANIZATIONS = "helpdesk/organizations.jsonl"


@dataclass(frozen=True)
class GenerationReport:
    out_dir: Path
    accounts: int
    event_lines: int
    input_lines: dict[str, int]
    rejected_lines: int
    duplicate_lines: int
    seconds: float


class _ReferenceExport:
    """A JSONL reference export (users or organizations), one record per line."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._stream: TextIO = path.open("w", encoding="utf-8", newline="")
        self.lines = 0

    def write(self, record: dict[str, object]) -> None:
        self._stream.write(json.dumps(record, ensure_ascii=False))
        self._stream.write("\n")
        self.lines += 1

    def close(self) -> None:
        self._stream.close()


def _prepare(out_dir: Path) -> None:
    if out_dir.exists() and any(out_dir.iterdir()):
        raise OutputNotWritable(f"output directory {out_dir} is not empty")
    try:
        (out_dir / "crm").mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputNotWritable(f"output directory {out_dir}: {error}") from error


def generate_corpus(params: GenerationParameters, out_dir: Path) -> GenerationReport:
    """Writes the seven source files and ``expected.json`` into an empty ``out_dir``."""
    # The generator builds no reference cycles; the cyclic collector would only walk
    # millions of short-lived payload dicts and costs about a quarter of the run time.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _generate(params, out_dir)
    finally:
        if collecting:
            gc.enable()


def _generate(params: GenerationParameters, out_dir: Path) -> GenerationReport:
    began = time.perf_counter()
    _prepare(out_dir)
    # Separate streams so that, say, a higher bad rate leaves the accounts unchanged.
    history_rng = random.Random(f"history-{params.seed}")
    delivery_rng = random.Random(f"delivery-{params.seed}")
    mint = IdMint(random.Random(f"ids-{params.seed}"))
    start = datetime(
        params.start_date.year,
        params.start_date.month,
        params.start_date.day,
        tzinfo=UTC,
    ).timestamp()
    end = start + params.days * 86400.0
    builder = AccountBuilder(history_rng, mint, start, end, params.bad_csv_rate)

    expected = ExpectedState(out_dir, params.seed)
    lanes = {
        name: DeliveryLane(out_dir, name, params, delivery_rng, mint, expected)
        for name in EVENT_FILES
    }
    companies = CsvExport(out_dir / COMPANIES, COMPANY_HEADER)
    contacts = CsvExport(out_dir / CONTACTS, CONTACT_HEADER)
    users = _ReferenceExport(out_dir / USERS)
    organizations = _ReferenceExport(out_dir / ORGANIZATIONS)
    for agent_id, name, email in AGENTS:
        users.write(_agent_row(agent_id, name, email, start))

    truth_events = 0
    index = 0
    while not _enough(params, index, truth_events):
        batch: list[TimedEvent] = []
        for _ in range(params.interleave):
            if _enough(params, index, truth_events):
                break
            index += 1
            linked = history_rng.random() >= params.unlinked_rate
            records = builder.linked(index) if linked else builder.unlinked(index)
            _write_reference(
                records, companies, contacts, users, organizations, expected
            )
            expected.add_account(records.expected)
            truth_events += len(records.events)
            batch.extend(records.events)
        # 1. deliver the group's events in event-time order; lanes add the disorder
        batch.sort(key=lambda event: event.at)
        for event in batch:
            lanes[event.event_file].offer(event)

    for lane in lanes.values():
        lane.close()
    for export in (companies, contacts, users, organizations):
        export.close()
    input_lines = {
        COMPANIES: companies.lines,
        CONTACTS: contacts.lines,
        **{name: lane.lines for name, lane in lanes.items()},
        USERS: users.lines,
        ORGANIZATIONS: organizations.lines,
    }
    expected.write(input_lines)
    event_lines = sum(lane.lines for lane in lanes.values())
    report = GenerationReport(
        out_dir,
        expected.accounts,
        event_lines,
        input_lines,
        len(expected.rejected),
        len(expected.duplicates),
        time.perf_counter() - began,
    )
    logger.info(
        "corpus written", extra={"out_dir": str(out_dir), "event_lines": event_lines}
    )
    return report


def _enough(params: GenerationParameters, accounts: int, truth_events: int) -> bool:
    if params.accounts is not None and accounts >= params.accounts:
        return True
    return params.events is not None and truth_events >= params.events


def _write_reference(
    records: AccountRecords,
    companies: CsvExport,
    contacts: CsvExport,
    users: _ReferenceExport,
    organizations: _ReferenceExport,
    expected: ExpectedState,
) -> None:
    for row in records.company_rows:
        companies.write(row)
    for row in records.rejected_company_rows:
        expected.reject(COMPANIES, companies.write(row), "non_numeric_record_id")
    for row in records.contact_rows:
        contacts.write(row)
    for row in records.rejected_contact_rows:
        expected.reject(CONTACTS, contacts.write(row), "null_byte")
    for record in records.organization_rows:
        organizations.write(record)
    for record in records.user_rows:
        users.write(record)


def _agent_row(agent_id: int, name: str, email: str, start: float) -> dict[str, object]:
    stamp = datetime.fromtimestamp(start, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "id": agent_id,
        "url": None,
        "name": name,
        "email": email,
        "role": "agent",
        "organization_id": None,
        "external_id": None,
        "locale": "en-US",
        "time_zone": "UTC",
        "active": True,
        "verified": True,
        "suspended": False,
        "tags": [],
        "created_at": stamp,
        "updated_at": stamp,
    }
