"""Acknowledged records are read back; one missing from its offset is published again."""

from __future__ import annotations

import pytest
from confluent_kafka import Producer

from eventbus.kafka_config import producer_config
from eventbus.topic_admin import ensure_topics
from eventbus.topics import Topics
from producers.publish_verifier import (
    PublishedRecord,
    missing_records,
    publish_until_verified,
)

pytestmark = pytest.mark.integration


def _produce(settings, records: list[tuple[bytes, bytes]]) -> list[PublishedRecord]:
    topic = Topics(settings.kafka.topic_prefix).crm
    producer = Producer(producer_config(settings.kafka, "verifier-test"))
    acknowledged: list[PublishedRecord] = []

    def on_delivery(error, message) -> None:
        assert error is None
        acknowledged.append(
            PublishedRecord(
                topic,
                message.partition(),
                message.offset(),
                message.key(),
                message.value(),
                [],
            )
        )

    for key, value in records:
        producer.produce(
            topic, key=key, value=value, partition=0, on_delivery=on_delivery
        )
    assert producer.flush(30) == 0
    return acknowledged


def test_records_at_their_acknowledged_offsets_verify(pipeline_settings) -> None:
    ensure_topics(pipeline_settings)
    published = _produce(pipeline_settings, [(b"k1", b"v1"), (b"k2", b"v2")])

    assert missing_records(pipeline_settings.kafka, published) == []


def test_a_record_not_at_its_offset_is_published_again(pipeline_settings) -> None:
    ensure_topics(pipeline_settings)
    published = _produce(pipeline_settings, [(b"k1", b"v1"), (b"k2", b"v2")])
    # An acknowledgement that claims offset 0 for bytes the log does not hold there:
    # what a lost first batch looks like from the producer's side.
    lost = PublishedRecord(published[0].topic, 0, 0, b"k0", b"lost", [])

    def publish_again(records: list[PublishedRecord]) -> list[PublishedRecord]:
        return _produce(pipeline_settings, [(r.key, r.value) for r in records])

    assert missing_records(pipeline_settings.kafka, [*published, lost]) == [lost]
    republished = publish_until_verified(
        pipeline_settings.kafka, [*published, lost], publish_again
    )
    assert republished == 1
