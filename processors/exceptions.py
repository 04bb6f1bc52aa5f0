"""Errors raised by the stream processors.

::

    ProcessorError
    ├── UnreadableRecord      a Kafka record cannot be decoded into a BusinessEvent
    └── UnsupportedEvent      a decoded event has a payload kind no processor handles
"""

from __future__ import annotations


class ProcessorError(Exception):
    """Base class of every error the processors raise on purpose."""


class UnreadableRecord(ProcessorError):
    """A record on a processor's input topic is not a readable BusinessEvent."""

    def __init__(self, topic: str, partition: int, offset: int, reason: str) -> None:
        super().__init__(
            f"record {topic}[{partition}]@{offset} is not a readable BusinessEvent: "
            f"{reason}"
        )
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.reason = reason


class UnsupportedEvent(ProcessorError):
    """A business event carries a payload the correlate stage does not know."""

    def __init__(self, event_id: str, payload_kind: str) -> None:
        super().__init__(
            f"event {event_id!r} carries payload {payload_kind!r}, "
            "which no processor handles"
        )
        self.event_id = event_id
        self.payload_kind = payload_kind
