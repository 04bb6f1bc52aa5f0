"""Read the sink's dead letters, and send chosen ones through the sink again.

Re-drive produces a dead letter back to ``enriched.accounts`` (not straight into Odoo):
the record then takes the path every record takes (ordering per account, batching,
ownership, audit, dead-lettering again if it still fails), and the live sink is the only
writer. The value is produced unchanged, so the trace context inside it is kept; the
dead letter's ``x-sink-*`` headers are kept too (its trace id among them), with
``x-sink-redriven-from`` added, naming the dead letter's position.

Re-driving is harmless to repeat: a re-driven record is an upsert guarded by its version,
so a record Odoo already holds at that or a newer version is skipped, never duplicated.
An old version re-driven after a newer one was written is skipped the same way.

Listing shows positions, error classes, event and trace ids and counts; never the error
message or the value, which may hold personal data.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from confluent_kafka import Message, Producer

from eventbus import Topics
from eventbus.kafka_config import producer_config
from pipeline.settings import Settings
from sinks.consumer import DEAD_LETTER_HEADER_PREFIX
from sinks.topic_reading import TopicReadError, read_topic

logger = logging.getLogger(__name__)

REDRIVEN_FROM_HEADER = DEAD_LETTER_HEADER_PREFIX + "redriven-from"
DELIVERY_TIMEOUT_SECONDS = 30.0


class DeadLetterError(Exception):
    """The dead-letter topic cannot be read or a re-drive cannot finish."""


@dataclass(frozen=True)
class StoredDeadLetter:
    partition: int
    offset: int
    timestamp: datetime | None
    key: bytes | None
    value: bytes | None
    headers: dict[str, str]
    raw_headers: list[tuple[str, bytes]]

    def header(self, name: str) -> str:
        return self.headers.get(name, "")

    def listing(self) -> dict[str, object]:
        """What an operator sees of the dead letter: no value, no error message."""
        return {
            "offset": self.offset,
            "at": self.timestamp.isoformat() if self.timestamp else None,
            "error_class": self.header("error-class"),
            "original": (
                f"{self.header('original-topic')}[{self.header('original-partition')}]"
                f"@{self.header('original-offset')}"
            ),
            "event_id": self.header("event-id"),
            "trace_id": self.header("trace-id"),
            "attempts": self.header("attempts"),
            "redriven_from": self.header("redriven-from") or None,
        }


@dataclass
class RedriveReport:
    chosen: list[int] = field(default_factory=list)
    topic: str = ""

    def summary(self) -> dict[str, object]:
        return {"redriven": len(self.chosen), "offsets": self.chosen, "to": self.topic}


def read_dead_letters(settings: Settings) -> list[StoredDeadLetter]:
    """Every dead letter retained, up to the high watermark when called."""
    topic = Topics(settings.kafka.topic_prefix).sink_deadletter
    try:
        messages = read_topic(settings, topic, "odoo-sink-deadletters")
    except TopicReadError as error:
        raise DeadLetterError(str(error)) from error
    letters = [_stored(message) for message in messages]
    return sorted(letters, key=lambda letter: (letter.partition, letter.offset))


def _stored(message: Message) -> StoredDeadLetter:
    raw = list(message.headers() or [])
    headers = {
        name.removeprefix(DEAD_LETTER_HEADER_PREFIX): value.decode("utf-8", "replace")
        for name, value in raw
        if name.startswith(DEAD_LETTER_HEADER_PREFIX) and value is not None
    }
    kind, millis = message.timestamp()
    moment = datetime.fromtimestamp(millis / 1000, UTC) if kind and millis > 0 else None
    return StoredDeadLetter(
        partition=message.partition(),
        offset=message.offset(),
        timestamp=moment,
        key=message.key(),
        value=message.value(),
        headers=headers,
        raw_headers=raw,
    )


def counts_by_error_class(letters: list[StoredDeadLetter]) -> dict[str, int]:
    return dict(sorted(Counter(d.header("error-class") for d in letters).items()))


def choose(
    letters: list[StoredDeadLetter],
    *,
    offsets: list[int] | None,
    error_class: str | None,
    everything: bool,
) -> list[StoredDeadLetter]:
    """The dead letters a re-drive selection names; refuses an empty selection."""
    if not (offsets or error_class or everything):
        raise DeadLetterError("name --offset, --error-class or --all")
    chosen = letters
    if offsets:
        wanted = set(offsets)
        chosen = [d for d in chosen if d.offset in wanted]
        missing = sorted(wanted - {d.offset for d in chosen})
        if missing:
            raise DeadLetterError(f"no dead letter at offsets {missing}")
    if error_class:
        chosen = [d for d in chosen if d.header("error-class") == error_class]
    return chosen


def redrive(settings: Settings, letters: list[StoredDeadLetter]) -> RedriveReport:
    """Produce ``letters`` back to the enriched topic, in dead-letter order."""
    topics = Topics(settings.kafka.topic_prefix)
    report = RedriveReport(topic=topics.enriched)
    if not letters:
        return report
    producer = Producer(producer_config(settings.kafka, "odoo-sink-redrive"))
    for letter in letters:
        headers = [
            (name, value)
            for name, value in letter.raw_headers
            if name != REDRIVEN_FROM_HEADER
        ]
        position = f"{topics.sink_deadletter}[{letter.partition}]@{letter.offset}"
        headers.append((REDRIVEN_FROM_HEADER, position.encode()))
        producer.produce(
            topics.enriched, key=letter.key, value=letter.value, headers=headers
        )
        report.chosen.append(letter.offset)
    undelivered = producer.flush(DELIVERY_TIMEOUT_SECONDS)
    if undelivered:
        raise DeadLetterError(
            f"{undelivered} of {len(letters)} re-driven records not delivered to "
            f"{topics.enriched}"
        )
    logger.info(
        "re-drove %d dead letters to %s offsets=%s",
        len(letters),
        topics.enriched,
        report.chosen,
    )
    return report
