"""Ingesting a corpus directory: read every line, publish every outcome, report counts.

A bad line is a dead-letter record, never a reason to stop. The run fails only if Kafka
does not acknowledge what was produced (``PublishError``), because then the report would
claim data that is not on the topics.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pipeline.settings import Settings
from producers.corpus import read_corpus
from producers.outcomes import AcceptedEvent
from producers.publisher import EventPublisher

logger = logging.getLogger(__name__)

PROGRESS_EVERY_LINES = 1000
# Acknowledged records are read back and checked in chunks of this many lines, which
# also bounds the memory held for publishing them again.
VERIFY_EVERY_LINES = 2000


@dataclass
class IngestReport:
    lines_read: int = 0
    accepted_by_source: Counter[str] = field(default_factory=Counter)
    rejected_by_reason: Counter[str] = field(default_factory=Counter)

    @property
    def accepted(self) -> int:
        return sum(self.accepted_by_source.values())

    @property
    def rejected(self) -> int:
        return sum(self.rejected_by_reason.values())

    def as_log_fields(self) -> dict[str, object]:
        return {
            "lines_read": self.lines_read,
            "accepted": dict(self.accepted_by_source),
            "rejected": dict(self.rejected_by_reason),
        }


def ingest_corpus(
    corpus_dir: Path,
    settings: Settings,
    publisher: EventPublisher | None = None,
    progress_every: int = PROGRESS_EVERY_LINES,
) -> IngestReport:
    """Publish every line of ``corpus_dir``; raises PublishError if Kafka did not ack."""
    own_publisher = publisher is None
    active = publisher or EventPublisher(settings)
    report = IngestReport()
    republished = 0
    acked = 0
    received_at = datetime.now(tz=UTC)
    logger.info("ingest started", extra={"corpus_dir": str(corpus_dir)})
    try:
        outcomes = read_corpus(
            corpus_dir, received_at, max_line_bytes=settings.ingest.max_line_bytes
        )
        for outcome in outcomes:
            # 1. publish the outcome, 2. count it, 3. serve delivery reports.
            if isinstance(outcome, AcceptedEvent):
                active.publish_event(outcome.source_system, outcome.key, outcome.event)
                report.accepted_by_source[outcome.source_system] += 1
            else:
                active.publish_rejection(outcome.record)
                report.rejected_by_reason[outcome.reason] += 1
            report.lines_read += 1
            active.poll(0)

            if report.lines_read % VERIFY_EVERY_LINES == 0:
                counts, again = active.flush_verified()
                acked += counts.acknowledged
                republished += again

            if report.lines_read % progress_every == 0:
                logger.info("ingest progress", extra=report.as_log_fields())

        counts, again = active.flush_verified()
        acked += counts.acknowledged
        republished += again
    finally:
        if own_publisher:
            active.close()
    logger.info(
        "ingest finished",
        extra={
            **report.as_log_fields(),
            "acked": acked,
            "published_again": republished,
        },
    )
    return report
