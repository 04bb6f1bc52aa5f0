"""Read a whole topic from the beginning to its current end (for reports and tests)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

from confluent_kafka import Consumer, Message, TopicPartition

from eventbus.kafka_config import consumer_config
from pipeline.settings import KafkaSettings


def read_all(
    kafka: KafkaSettings, topic: str, timeout: float = 10.0
) -> Iterator[Message]:
    """Yield every record of ``topic`` up to the end offsets seen when the call starts."""
    config = consumer_config(kafka, f"reader-{uuid.uuid4().hex[:8]}", "topic-reader")
    consumer = Consumer(config)
    try:
        metadata = consumer.list_topics(topic, timeout=timeout)
        if topic not in metadata.topics or metadata.topics[topic].error is not None:
            return
        ends: dict[int, int] = {}
        assignment = []
        for partition in metadata.topics[topic].partitions:
            low, high = consumer.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=timeout
            )
            if high > low:
                ends[partition] = high
                assignment.append(TopicPartition(topic, partition, low))
        if not assignment:
            return
        consumer.assign(assignment)
        while ends:
            message = consumer.poll(timeout)
            if message is None:
                raise TimeoutError(
                    f"reading {topic} stalled with {ends} still to reach"
                )
            if message.error():
                continue
            yield message
            if message.offset() + 1 >= ends.get(message.partition(), 0):
                ends.pop(message.partition(), None)
    finally:
        consumer.close()
