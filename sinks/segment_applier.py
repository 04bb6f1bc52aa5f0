"""Apply one poll of enriched records: batched by default, one by one on request.

The poll is cut into segments: runs of consecutive records without a merge. A merge is
a barrier, applied alone through ``OdooWriter`` (it re-points records of other accounts,
so nothing may be batched across it). Each segment goes to ``BatchWriter`` in one go,
retried as a whole while Odoo is transiently unavailable (the batch is idempotent).

A permanent error on a batched call means the whole call was refused (each JSON-2 call
is one transaction), not that every record in it is bad. The segment is then split in
two halves applied in order, recursively, until the bad record stands alone and is
dead-lettered; the good records around it are written. Order per partition is kept
because the first half is always applied before the second.

``apply`` answers one result per record for the leading records it finished, in poll
order. When Odoo stays unavailable past the retry budget it stops there and says so
(``PollResult.unavailable``); the records after the finished ones are untouched and the
consumer re-delivers them later.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sinks.batch_writer import BatchWriter, SegmentChange
from sinks.consumer import (
    PERMANENT_ERRORS,
    DeadLetter,
    OdooUnavailable,
    RecordApplier,
    RecordSource,
    trace_id_of,
)
from sinks.odoo import OdooError
from sinks.odoo_writer import WriteOutcome
from sinks.record_mapping import UnmappableRecord

logger = logging.getLogger(__name__)

MERGE_KIND = "account_merge"


@dataclass(frozen=True)
class PendingRecord:
    source: RecordSource
    value: bytes | None


@dataclass
class PollResult:
    """Results of the leading finished records, and why the rest was not finished."""

    results: list[WriteOutcome | DeadLetter] = field(default_factory=list)
    # The decoded record behind each result (None: it could not be decoded).
    events: list[dict[str, Any] | None] = field(default_factory=list)
    changes: list[SegmentChange] = field(default_factory=list)
    unavailable: OdooUnavailable | None = None


class _SegmentUnavailable(Exception):
    def __init__(self, cause: OdooUnavailable) -> None:
        super().__init__(str(cause))
        self.cause = cause


class SegmentApplier:
    """Decodes a poll, cuts it at merges and applies each segment with few calls."""

    def __init__(
        self, applier: RecordApplier, batch_writer: BatchWriter | None
    ) -> None:
        self._applier = applier
        # None: one record at a time through OdooWriter (the unbatched mode).
        self._batch_writer = batch_writer

    def apply(self, records: list[PendingRecord]) -> PollResult:
        poll = PollResult()

        # 1. Decode; what cannot be decoded is a dead letter in its place.
        decoded: list[dict[str, Any] | DeadLetter] = [
            self._decode(record) for record in records
        ]

        # 2. Apply segment after segment, in poll order.
        for start, end in _segments(decoded):
            try:
                results = self._apply_range(records, decoded, start, end, poll)
            except _SegmentUnavailable as unavailable:
                poll.unavailable = unavailable.cause
                return poll
            poll.results.extend(results)
            poll.events.extend(
                None if isinstance(e, DeadLetter) else e for e in decoded[start:end]
            )
        return poll

    def change_of(
        self, poll: PollResult, event: dict[str, Any] | None
    ) -> SegmentChange | None:
        """The batched write that carried ``event``'s values, when there was one."""
        return next((c for c in poll.changes if c.event is event), None)

    def _decode(self, record: PendingRecord) -> dict[str, Any] | DeadLetter:
        try:
            return self._applier.decode(record.value)
        except PERMANENT_ERRORS as error:
            return DeadLetter(
                record.source, type(error).__name__, str(error), 1, "", ""
            )

    def _apply_range(
        self,
        records: list[PendingRecord],
        decoded: list[dict[str, Any] | DeadLetter],
        start: int,
        end: int,
        poll: PollResult,
    ) -> list[WriteOutcome | DeadLetter]:
        """Results of ``records[start:end]``, splitting it on a permanent error."""
        events = decoded[start:end]
        if any(isinstance(e, DeadLetter) for e in events) or (
            self._batch_writer is None or end - start == 1 and _is_merge(events[0])
        ):
            return [self._apply_one(records[i], decoded[i]) for i in range(start, end)]
        try:
            return self._apply_batched(records, events, start, poll)  # type: ignore[arg-type]
        except PERMANENT_ERRORS as error:
            if end - start == 1:
                return [self._dead_letter(records[start], events[0], error, 1)]  # type: ignore[arg-type]
            middle = (start + end) // 2
            logger.warning(
                "batch of %d records refused (%s); splitting it to find the record",
                end - start,
                type(error).__name__,
            )
            return self._apply_range(
                records, decoded, start, middle, poll
            ) + self._apply_range(records, decoded, middle, end, poll)

    def _apply_batched(
        self,
        records: list[PendingRecord],
        events: list[dict[str, Any]],
        start: int,
        poll: PollResult,
    ) -> list[WriteOutcome | DeadLetter]:
        assert self._batch_writer is not None
        attempts = 0
        try:
            for attempt in self._applier.retrying():
                with attempt:
                    attempts = attempt.retry_state.attempt_number
                    segment = self._batch_writer.apply(events)
        except PERMANENT_ERRORS:
            raise
        except OdooError as error:
            source = records[start].source
            unavailable = OdooUnavailable(source, attempts, error)
            raise _SegmentUnavailable(unavailable) from error
        poll.changes.extend(segment.changes)
        results: list[WriteOutcome | DeadLetter] = []
        for offset, outcome in enumerate(segment.outcomes):
            if isinstance(outcome, UnmappableRecord):
                record = records[start + offset]
                results.append(self._dead_letter(record, events[offset], outcome, 1))
            else:
                results.append(outcome)
        return results

    def _apply_one(
        self, record: PendingRecord, event: dict[str, Any] | DeadLetter
    ) -> WriteOutcome | DeadLetter:
        if isinstance(event, DeadLetter):
            return event
        try:
            return self._applier.apply_event(record.source, event)
        except OdooUnavailable as unavailable:
            raise _SegmentUnavailable(unavailable) from unavailable

    @staticmethod
    def _dead_letter(
        record: PendingRecord,
        event: dict[str, Any],
        error: Exception,
        attempts: int,
    ) -> DeadLetter:
        return DeadLetter(
            source=record.source,
            error_class=type(error).__name__,
            error_message=str(error),
            attempts=attempts,
            trace_id=trace_id_of(event),
            event_id=event.get("event_id", ""),
        )


def _is_merge(event: dict[str, Any] | DeadLetter) -> bool:
    return isinstance(event, dict) and event.get("record_kind") == MERGE_KIND


def _segments(
    decoded: list[dict[str, Any] | DeadLetter],
) -> list[tuple[int, int]]:
    """``[start, end)`` ranges: merges alone, undecodable records alone, runs between."""
    ranges: list[tuple[int, int]] = []
    start = 0
    for index, event in enumerate(decoded):
        if _is_merge(event) or isinstance(event, DeadLetter):
            if start < index:
                ranges.append((start, index))
            ranges.append((index, index + 1))
            start = index + 1
    if start < len(decoded):
        ranges.append((start, len(decoded)))
    return ranges
