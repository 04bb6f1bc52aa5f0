"""Errors raised by the stream processors.

::

    ProcessorError
    ├── UnreadableRecord      a Kafka record cannot be decoded into a BusinessEvent
    ├── UnsupportedEvent      a decoded event has a payload kind no processor handles
    └── UsageOverflow         a usage call would take a day's total past an Avro long
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


class UsageOverflow(ProcessorError):
    """A usage call whose quantity would take its window's total out of range."""

    def __init__(self, record_id: str, message_id: str, quantity: int) -> None:
        super().__init__(
            f"usage {record_id}: call {message_id!r} with quantity {quantity} would take "
            "the day's total outside a 64-bit signed integer; the call is not counted"
        )
        self.record_id = record_id
        self.message_id = message_id
        self.quantity = quantity
