"""Read back what the broker acknowledged, and publish again what is not there.

On a freshly started local broker we have seen an acknowledged first batch missing from
a partition (the partition's log begins with a later producer sequence). The cause is
not known. File ingest therefore checks, chunk by chunk, that every acknowledged record
sits at its acknowledged offset with the same bytes, and re-publishes those that do not.
Re-publishing is safe: the processors drop a second delivery of an event id.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from confluent_kafka import Consumer, TopicPartition

from eventbus.kafka_config import consumer_config
from pipeline.settings import KafkaSettings

logger = logging.getLogger(__name__)

READ_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class PublishedRecord:
    """One acknowledged record and what is needed to publish it again."""

    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


def missing_records(
    kafka: KafkaSettings, published: list[PublishedRecord]
) -> list[PublishedRecord]:
    """The acknowledged records whose offset does not hold their key and value."""
    by_partition: dict[tuple[str, int], dict[int, PublishedRecord]] = defaultdict(dict)
    for record in published:
        by_partition[(record.topic, record.partition)][record.offset] = record
    # Two acknowledgements for one offset mean one of them is not in the log.
    seen = {(r.topic, r.partition, r.offset) for r in published}
    collided = len(published) - len(seen)

    consumer = Consumer(
        consumer_config(kafka, f"publish-verifier-{uuid.uuid4().hex[:8]}", "verifier")
    )
    try:
        stored = _read_offsets(consumer, by_partition)
    finally:
        consumer.close()

    missing = [
        record
        for record in published
        if stored.get((record.topic, record.partition, record.offset))
        != (record.key, record.value)
    ]
    if collided:
        logger.warning("acknowledged offsets collide", extra={"collisions": collided})
    return missing


def _read_offsets(
    consumer: Consumer, by_partition: dict[tuple[str, int], dict[int, PublishedRecord]]
) -> dict[tuple[str, int, int], tuple[bytes, bytes]]:
    first = {tp: min(offsets) for tp, offsets in by_partition.items()}
    last = {tp: max(offsets) for tp, offsets in by_partition.items()}
    consumer.assign([TopicPartition(t, p, first[(t, p)]) for t, p in by_partition])
    stored: dict[tuple[str, int, int], tuple[bytes, bytes]] = {}
    pending = set(by_partition)
    while pending:
        message = consumer.poll(READ_TIMEOUT_SECONDS)
        if message is None:
            break
        if message.error():
            continue
        tp = (message.topic(), message.partition())
        stored[(*tp, message.offset())] = (message.key(), message.value())
        if message.offset() >= last.get(tp, -1):
            pending.discard(tp)
    return stored


def publish_until_verified(
    kafka: KafkaSettings,
    published: list[PublishedRecord],
    publish_again: Callable[[list[PublishedRecord]], list[PublishedRecord]],
    attempts: int = 3,
) -> int:
    """Verify ``published``; re-publish what is missing until none is. Returns how many
    records had to be published again. Raises RuntimeError if some never land."""
    republished = 0
    for _ in range(attempts):
        missing = missing_records(kafka, published)
        if not missing:
            return republished
        logger.warning(
            "acknowledged records not found at their offsets; publishing them again",
            extra={"records": len(missing)},
        )
        republished += len(missing)
        published = publish_again(missing)
    if missing_records(kafka, published):
        raise RuntimeError(
            f"{len(published)} acknowledged records could not be found after "
            f"{attempts} attempts to publish them again"
        )
    return republished
