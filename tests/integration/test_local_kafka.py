"""The local broker the whole integration tier runs on is real Apache Kafka."""

from __future__ import annotations

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from eventbus.topic_admin import ensure_topics
from eventbus.topics import Topics

pytestmark = pytest.mark.integration


def test_broker_answers_metadata_and_round_trips_a_record(kafka_bootstrap: str) -> None:
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    assert admin.list_topics(timeout=10).brokers

    producer = Producer(
        {"bootstrap.servers": kafka_bootstrap, "enable.idempotence": True}
    )
    producer.produce("local-kafka-roundtrip", key=b"k", value=b"hello")
    assert producer.flush(15) == 0

    consumer = Consumer(
        {
            "bootstrap.servers": kafka_bootstrap,
            "group.id": "roundtrip",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe(["local-kafka-roundtrip"])
    try:
        message = None
        for _ in range(30):
            message = consumer.poll(1.0)
            if message is not None and message.error() is None:
                break
        assert message is not None and message.value() == b"hello"
    finally:
        consumer.close()


def test_ensure_topics_creates_every_topic_once(pipeline_settings) -> None:
    created = ensure_topics(pipeline_settings)
    topics = Topics(pipeline_settings.kafka.topic_prefix)
    expected = {spec.name for spec in topics.specs(pipeline_settings.kafka.partitions)}
    assert set(created) == expected
    assert ensure_topics(pipeline_settings) == []

    metadata = AdminClient(
        {"bootstrap.servers": pipeline_settings.kafka.bootstrap_servers}
    ).list_topics(timeout=10)
    assert len(metadata.topics[topics.enriched].partitions) == 3
    assert len(metadata.topics[topics.deduplicated].partitions) == 1
