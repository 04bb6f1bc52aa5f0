"""Reading a directory of source exports, one outcome per physical line or CSV record.

The layout is fixed (one file per source format); a missing file is skipped with a
warning so a partial drop can still be ingested. Reference exports come first, then the
event streams, each in file order; that order is a courtesy to readers of the topics and
nothing downstream depends on it. Duplicates are not dropped here: deduplication needs
the event-id table the processors keep.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from producers.business_event import Delivery
from producers.crm import read_csv_records
from producers.intake import judge_csv_record, judge_json_line
from producers.outcomes import IngestOutcome
from producers.sources import (
    CRM_COMPANIES,
    CRM_CONTACTS,
    SEGMENT_EVENTS,
    STRIPE_EVENTS,
    ZENDESK_ORGANIZATION_EXPORT,
    ZENDESK_TICKET_EVENTS,
    ZENDESK_USER_EXPORT,
    CsvSource,
    JsonSource,
)

logger = logging.getLogger(__name__)

FILE_CHANNEL = "file"
DEFAULT_MAX_LINE_BYTES = 65536


@dataclass(frozen=True)
class CorpusFile:
    relative_path: str
    source: JsonSource | CsvSource


CORPUS_LAYOUT: tuple[CorpusFile, ...] = (
    CorpusFile("crm/companies.csv", CRM_COMPANIES),
    CorpusFile("crm/contacts.csv", CRM_CONTACTS),
    CorpusFile("helpdesk/organizations.jsonl", ZENDESK_ORGANIZATION_EXPORT),
    CorpusFile("helpdesk/users.jsonl", ZENDESK_USER_EXPORT),
    CorpusFile("billing/stripe_events.jsonl", STRIPE_EVENTS),
    CorpusFile("product/segment_events.jsonl", SEGMENT_EVENTS),
    CorpusFile("helpdesk/zendesk_webhooks.jsonl", ZENDESK_TICKET_EVENTS),
)


def read_jsonl_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """Each physical line (1-based) without its line end, as bytes.

    Read in binary so a line that is not UTF-8 still becomes one rejected line instead of
    stopping the file.
    """
    with path.open("rb") as stream:
        for number, line in enumerate(stream, start=1):
            yield number, line.rstrip(b"\r\n")


def _read_jsonl(
    corpus_file: CorpusFile,
    source: JsonSource,
    path: Path,
    received_at: datetime,
    max_line_bytes: int,
) -> Iterator[IngestOutcome]:
    for number, line in read_jsonl_lines(path):
        delivery = Delivery(FILE_CHANNEL, corpus_file.relative_path, number)
        yield judge_json_line(line, source, delivery, received_at, max_line_bytes)


def _read_csv(
    corpus_file: CorpusFile, source: CsvSource, path: Path, received_at: datetime
) -> Iterator[IngestOutcome]:
    for record in read_csv_records(path):
        delivery = Delivery(FILE_CHANNEL, corpus_file.relative_path, record.line)
        yield judge_csv_record(
            record.cells, record.raw, record.malformed, source, delivery, received_at
        )


def read_corpus(
    corpus_dir: Path,
    received_at: datetime | None = None,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> Iterator[IngestOutcome]:
    """One outcome for every line (JSONL) or record (CSV) of every known file.

    ``received_at`` stamps every outcome (default: now, once for the whole run).
    """
    stamp = received_at or datetime.now(tz=UTC)
    for corpus_file in CORPUS_LAYOUT:
        path = corpus_dir / corpus_file.relative_path
        if not path.is_file():
            logger.warning(
                "corpus file missing; skipped",
                extra={"source_name": corpus_file.relative_path},
            )
            continue
        source = corpus_file.source
        if isinstance(source, CsvSource):
            yield from _read_csv(corpus_file, source, path, stamp)
        else:
            yield from _read_jsonl(corpus_file, source, path, stamp, max_line_bytes)
