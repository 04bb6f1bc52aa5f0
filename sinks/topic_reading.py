"""Read a whole topic once, up to the high watermarks taken when reading starts.

Used by the tools that look back over a topic (dead letters, reconcile). The consumer is
assigned by hand and never commits, so it moves no group's offsets.
"""

from __future__ import annotations

import logging
import time

from confluent_kafka import Consumer, Message, TopicPartition

from eventbus.kafka_config import consumer_config
from pipeline.settings import Settings

logger = logging.getLogger(__name__)

STALLED_AFTER_SECONDS = 30.0


class TopicReadError(Exception):
    """A topic that does not exist or stops answering before it was read."""


def read_topic(settings: Settings, topic: str, client_id: str) -> list[Message]:
    """Every retained record of ``topic``, in offset order per partition."""
    consumer = Consumer(
        consumer_config(
            settings.kafka, f"{settings.sink.group_id}-{client_id}", client_id
        )
    )
    try:
        metadata = consumer.list_topics(topic, timeout=STALLED_AFTER_SECONDS)
        if topic not in metadata.topics or metadata.topics[topic].error is not None:
            raise TopicReadError(f"topic {topic} does not exist")
        ends: dict[int, int] = {}
        starts: list[TopicPartition] = []
        for partition in sorted(metadata.topics[topic].partitions):
            low, high = consumer.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=STALLED_AFTER_SECONDS
            )
            if high > low:
                ends[partition] = high
                starts.append(TopicPartition(topic, partition, low))
        if not starts:
            return []
        consumer.assign(starts)
        return _read_until(consumer, topic, ends)
    finally:
        consumer.close()


def _read_until(consumer: Consumer, topic: str, ends: dict[int, int]) -> list[Message]:
    messages: list[Message] = []
    pending = dict(ends)
    last_record = time.monotonic()
    while pending:
        if time.monotonic() - last_record > STALLED_AFTER_SECONDS:
            raise TopicReadError(
                f"{topic}: nothing for {STALLED_AFTER_SECONDS:.0f}s with partitions "
                f"{sorted(pending)} unread"
            )
        for message in consumer.consume(num_messages=500, timeout=1.0):
            if message.error() is not None:
                logger.warning("consumer error %s", message.error())
                continue
            last_record = time.monotonic()
            partition = message.partition()
            if partition not in pending or message.offset() >= pending[partition]:
                continue
            messages.append(message)
            if message.offset() + 1 >= pending[partition]:
                del pending[partition]
    return messages
