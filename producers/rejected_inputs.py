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
from http import HTTPStatus
from typing import Any

from confluent_kafka import Message
from confluent_kafka.schema_registry.error import SchemaRegistryError
from fastavro.schema import SchemaParseException

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
    record = _decoded(codec, message)
    if record is None:
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


def _decoded(codec: AvroCodec, message: Message) -> dict[str, Any] | None:
    """The record as a RejectedInput; None when it is not one (another writer's
    bytes, a schema id the registry does not know or that names no Avro schema)."""
    try:
        return codec.decode(REJECTED_INPUT_SUBJECT, message.value())
    except (WireFormatError, SchemaCatalogError, ValueError, SchemaParseException):
        return None
    except SchemaRegistryError as error:
        if error.http_status_code == HTTPStatus.NOT_FOUND:
            return None
        # The registry failing says nothing about the record: every record after it
        # would be listed as unreadable.
        raise RejectedInputReadError(
            f"schema registry failed reading offset {message.offset()} of partition "
            f"{message.partition()}: {error.http_status_code} {error.error_message}"
        ) from error


def counts_by_reason(rejections: list[StoredRejection]) -> dict[str, int]:
    return dict(sorted(Counter(r.reason for r in rejections).items()))
