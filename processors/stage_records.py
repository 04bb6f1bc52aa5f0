"""What the processor stages read and send: their topics, and consumed records decoded.

A record that cannot be decoded is logged with its topic, partition and offset and
skipped by the stage: one bad record never stops the worker.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import faust

from eventbus import AvroCodec, SchemaCatalogError, WireFormatError
from processors.exceptions import UnreadableRecord

logger = logging.getLogger(__name__)

BUSINESS_EVENT = "BusinessEvent"
ENRICHED_EVENT = "EnrichedEvent"
PROCESSING_NOTICE = "ProcessingNotice"
LATE_REASON_HEADER = "late-reason"


@dataclass(frozen=True)
class ProcessorTopics:
    sources: faust.TopicT
    deduplicated: faust.TopicT
    notices: faust.TopicT
    late: faust.TopicT
    enriched: faust.TopicT


def read_event(codec: AvroCodec, message: Any, stage: str) -> dict[str, Any] | None:
    """The business event in ``message``, or None (logged) when it cannot be read."""
    try:
        return codec.decode(BUSINESS_EVENT, message.value)
    except (WireFormatError, SchemaCatalogError) as exc:
        error = UnreadableRecord(
            message.topic, message.partition, message.offset, str(exc)
        )
        logger.warning("%s skipped a record: %s", stage, error)
        return None


def header_value(headers: Any, name: str) -> bytes | None:
    """One header of a consumed record (Faust hands a list of pairs or a mapping)."""
    pairs = headers.items() if isinstance(headers, dict) else headers or []
    for key, value in pairs:
        if key == name:
            return value if isinstance(value, bytes) else str(value).encode()
    return None


def timestamp_micros(message: Any) -> int:
    """The record's Kafka timestamp in microseconds."""
    return int(round(float(message.timestamp) * 1_000_000))
