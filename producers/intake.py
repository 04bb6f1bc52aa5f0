"""Judging one input: validate, map, and wrap as an accepted event or a rejection.

Nothing here raises for bad input; every line or row ends as exactly one outcome.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import cache

from eventbus import AvroCodec
from producers.business_event import Delivery, MappedEvent
from producers.exceptions import PayloadError
from producers.outcomes import AcceptedEvent, IngestOutcome, rejected_input
from producers.sources import CsvSource, JsonSource
from producers.validation import (
    INVALID_PAYLOAD,
    Rejection,
    validate_csv_row,
    validate_json_line,
)

logger = logging.getLogger(__name__)


@cache
def _codec() -> AvroCodec:
    return AvroCodec()


def _schema_problem(event: dict) -> str | None:
    """Why the event would not encode, checked here so a reader of outcomes never gets
    an event the publisher cannot write (e.g. a lone UTF-16 surrogate from a JSON
    escape, or an integer beyond Avro's long)."""
    try:
        _codec().encode("BusinessEvent", event)
    except (ValueError, TypeError, OverflowError) as exc:
        return type(exc).__name__
    return None


def _accepted_or_rejected(
    mapped: MappedEvent,
    source_system: str,
    delivery: Delivery,
    raw: bytes,
    received_at: datetime,
) -> IngestOutcome:
    accepted = _accepted(mapped, received_at, delivery)
    problem = _schema_problem(accepted.event)
    if problem is None:
        return accepted
    rejection = Rejection(
        INVALID_PAYLOAD, f"event {mapped.event_id} does not fit the schema ({problem})"
    )
    return rejected_input(
        source_system, delivery, rejection, raw, received_at, mapped.event_id
    )


def _accepted(
    mapped: MappedEvent, received_at: datetime, delivery: Delivery
) -> AcceptedEvent:
    return AcceptedEvent(
        source_system=mapped.source_system,
        key=mapped.account_key,
        event=mapped.as_record(received_at, delivery),
    )


def judge_json_line(
    line: bytes,
    source: JsonSource,
    delivery: Delivery,
    received_at: datetime,
    max_line_bytes: int,
) -> IngestOutcome:
    """The outcome of one JSON line or webhook body."""
    checked = validate_json_line(line, source.rules, max_line_bytes)
    if isinstance(checked, Rejection):
        return rejected_input(
            source.source_system, delivery, checked, line, received_at
        )

    try:
        mapped = source.map_document(checked)
    except PayloadError as exc:
        rejection = Rejection(exc.reason, exc.detail)
        event_id = source.event_id_of(checked)
        return rejected_input(
            source.source_system, delivery, rejection, line, received_at, event_id
        )
    return _accepted_or_rejected(
        mapped, source.source_system, delivery, line, received_at
    )


def judge_csv_record(
    cells: dict[str, str],
    raw: bytes,
    malformed: str | None,
    source: CsvSource,
    delivery: Delivery,
    received_at: datetime,
) -> IngestOutcome:
    """The outcome of one CSV record (``malformed`` when it could not be split)."""
    if malformed is not None:
        rejection = Rejection(INVALID_PAYLOAD, f"row is malformed: {malformed}")
        return rejected_input(
            source.source_system, delivery, rejection, raw, received_at
        )

    found = validate_csv_row(cells, source.record_id_column)
    if found is not None:
        return rejected_input(source.source_system, delivery, found, raw, received_at)

    try:
        mapped = source.map_row(cells)
    except PayloadError as exc:
        rejection = Rejection(exc.reason, exc.detail)
        return rejected_input(
            source.source_system, delivery, rejection, raw, received_at
        )
    return _accepted_or_rejected(
        mapped, source.source_system, delivery, raw, received_at
    )
