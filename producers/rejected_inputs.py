"""Read back what the adapters refused (``deadletter.ingest``), for operators.

Each record there is a ``RejectedInput`` (schemas/pipeline.RejectedInput.avsc) keyed by
source name. A listing shows where the input came from (a corpus file and its line, or a
webhook path and the request's sequence number in that endpoint process), when it was
received, and the machine reason. It never shows ``raw`` (the input as received, which
can hold personal data) nor ``detail``: like the sink's dead-letter listing, an
operator's terminal gets positions and classes, not free text derived from the input.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from confluent_kafka import Message

from eventbus import AvroCodec, SchemaCatalogError, Topics, WireFormatError
from pipeline.settings import Settings
from producers.exceptions import ProducerError
from producers.publisher import REJECTED_INPUT_SUBJECT
from sinks.topic_reading import TopicReadError, read_topic

# The reason shown for a record of the topic that is not a readable RejectedInput.
UNREADABLE_REASON = "unreadable_dead_letter"


class RejectedInputReadError(ProducerError):
    """``deadletter.ingest`` does not exist or stopped answering before it was read."""


@dataclass(frozen=True)
class StoredRejection:
    """One refused input as kept on ``deadletter.ingest``, without its payload."""

    partition: int
    offset: int
    received_at: datetime | None
    source_system: str
    source_name: str
    position: int | None
    reason: str
    event_id: str | None

    def listing(self) -> dict[str, object]:
        """What an operator sees: where, when and why; never the input itself."""
        return {
            "offset": self.offset,
            "partition": self.partition,
            "received_at": self.received_at.isoformat() if self.received_at else None,
            "source_system": self.source_system,
            "source_name": self.source_name,
            "position": self.position,
            "reason": self.reason,
            "event_id": self.event_id,
        }


def read_rejected_inputs(settings: Settings) -> list[StoredRejection]:
    """Every refused input retained, up to the high watermark when called."""
    topic = Topics(settings.kafka.topic_prefix).ingest_deadletter
    try:
        messages = read_topic(settings, topic, "ingest-deadletters")
    except TopicReadError as error:
        raise RejectedInputReadError(str(error)) from error
    codec = AvroCodec(settings.kafka.schema_registry_url)
    rejections = [_stored(codec, message) for message in messages]
    return sorted(rejections, key=lambda r: (r.partition, r.offset))


def _stored(codec: AvroCodec, message: Message) -> StoredRejection:
    try:
        record = codec.decode(REJECTED_INPUT_SUBJECT, message.value())
    except (WireFormatError, SchemaCatalogError, ValueError):
        # Listed rather than skipped, so the count matches the topic; where it came
        # from is unknown, the key still names the source.
        key = message.key()
        return StoredRejection(
            partition=message.partition(),
            offset=message.offset(),
            received_at=None,
            source_system="",
            source_name=key.decode("utf-8", "replace") if key else "",
            position=None,
            reason=UNREADABLE_REASON,
            event_id=None,
        )
    return StoredRejection(
        partition=message.partition(),
        offset=message.offset(),
        received_at=record["received_at"],
        source_system=str(record["source_system"]),
        source_name=str(record["source_name"]),
        position=int(record["position"]),
        reason=str(record["reason"]),
        event_id=record.get("event_id"),
    )


def counts_by_reason(rejections: list[StoredRejection]) -> dict[str, int]:
    return dict(sorted(Counter(r.reason for r in rejections).items()))
