"""Consumers fetch ahead a bounded amount, in a form librdkafka accepts."""

from __future__ import annotations

from confluent_kafka import Consumer

from eventbus.kafka_config import PREFETCH_QUEUE_KIB, consumer_config
from pipeline.settings import KafkaSettings

LIBRDKAFKA_DEFAULT_QUEUE_KIB = 65_536


def test_the_prefetch_queue_is_below_librdkafkas_default_and_accepted() -> None:
    # Nothing listens there: making the client contacts no broker.
    config = consumer_config(
        KafkaSettings(bootstrap_servers="127.0.0.1:9"), "group", "consumer"
    )

    consumer = Consumer(config)  # an unknown or out-of-range property raises here
    consumer.close()

    assert config["queued.max.messages.kbytes"] == PREFETCH_QUEUE_KIB
    assert PREFETCH_QUEUE_KIB < LIBRDKAFKA_DEFAULT_QUEUE_KIB
