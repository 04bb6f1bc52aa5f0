"""Throughput of the adapters and the processors, each beside a raw-client baseline.

* publish: ``ingest_corpus`` (read, validate, map, encode, produce, wait for acks)
  against a bare confluent-kafka producer sending the same Avro bytes, encoded
  beforehand, with the same producer configuration, to topics with the same partitions;
* process: the Faust worker draining the source topics (deduplicate, then correlate:
  identity, ordering, versions) against a bare consume-and-produce loop that copies the
  same records to a topic with the same partitions, partition for partition.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from eventbus.avro_codec import AvroCodec
from eventbus.kafka_config import producer_config
from eventbus.topic_admin import ensure_topics
from eventbus.topics import Topics
from pipeline.settings import Settings
from producers.corpus import read_corpus
from producers.ingest import ingest_corpus
from producers.outcomes import AcceptedEvent

logger = logging.getLogger(__name__)

BUSINESS_EVENT = "BusinessEvent"
REJECTED_INPUT = "RejectedInput"


@dataclass(frozen=True)
class Rate:
    records: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class EncodedRecord:
    topic: str
    key: bytes
    value: bytes


def encode_corpus(corpus_dir: Path, settings: Settings) -> list[EncodedRecord]:
    """Every outcome of the corpus as the Avro bytes the adapters would send."""
    codec = AvroCodec(settings.kafka.schema_registry_url)
    topics = Topics(settings.kafka.topic_prefix)
    encoded: list[EncodedRecord] = []
    for outcome in read_corpus(corpus_dir, datetime.now(tz=UTC)):
        if isinstance(outcome, AcceptedEvent):
            value = codec.encode(BUSINESS_EVENT, {**outcome.event, "trace_context": {}})
            topic = topics.source_topic(outcome.source_system)
            encoded.append(EncodedRecord(topic, outcome.key.encode(), value))
        else:
            value = codec.encode(REJECTED_INPUT, outcome.record)
            key = str(outcome.record["source_name"]).encode()
            encoded.append(EncodedRecord(topics.ingest_deadletter, key, value))
    return encoded


def raw_produce(records: list[EncodedRecord], settings: Settings) -> Rate:
    """Send pre-encoded records with a bare producer; time until all are acked."""
    ensure_topics(settings)
    producer = Producer(producer_config(settings.kafka, "bench-raw"))
    began = time.monotonic()
    for record in records:
        while True:
            try:
                producer.produce(record.topic, value=record.value, key=record.key)
                break
            except BufferError:
                producer.poll(0.5)
        producer.poll(0)
    remaining = producer.flush(120)
    seconds = time.monotonic() - began
    if remaining:
        raise RuntimeError(f"raw producer left {remaining} records unacknowledged")
    return Rate(len(records), seconds)


def adapter_publish(corpus_dir: Path, settings: Settings) -> tuple[Rate, int]:
    """``ingest_corpus`` end to end; returns the rate and the accepted event count."""
    ensure_topics(settings)
    began = time.monotonic()
    report = ingest_corpus(corpus_dir, settings)
    return Rate(report.lines_read, time.monotonic() - began), report.accepted


def records_on(settings: Settings, topics: list[str]) -> int:
    """How many records ``topics`` hold (end minus start offsets of every partition)."""
    consumer = Consumer(
        {"bootstrap.servers": settings.kafka.bootstrap_servers, "group.id": "bench"}
    )
    try:
        metadata = consumer.list_topics(timeout=10)
        total = 0
        for topic in topics:
            for partition in metadata.topics[topic].partitions:
                low, high = consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=10
                )
                total += high - low
        return total
    finally:
        consumer.close()


def raw_passthrough(settings: Settings, expected_records: int) -> Rate:
    """Copy the source topics to one topic, partition for partition, with bare clients.

    The clock starts at the first record received, so group joining is not counted
    (the Faust figure excludes its start-up the same way).
    """
    topics = Topics(settings.kafka.topic_prefix)
    target = f"{settings.kafka.topic_prefix}bench.passthrough"
    admin = AdminClient({"bootstrap.servers": settings.kafka.bootstrap_servers})
    for future in admin.create_topics(
        [NewTopic(target, settings.kafka.partitions, 1)]
    ).values():
        future.result()
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka.bootstrap_servers,
            "group.id": f"{settings.kafka.topic_prefix}bench-passthrough",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    producer = Producer(producer_config(settings.kafka, "bench-passthrough"))
    consumer.subscribe(topics.source_topics)
    copied, began = 0, None
    try:
        while copied < expected_records:
            messages = consumer.consume(500, timeout=1.0)
            if messages and began is None:
                began = time.monotonic()
            for message in messages:
                if message.error():
                    continue
                _produce(producer, target, message.partition(), message)
                copied += 1
            producer.poll(0)
            if messages:
                consumer.commit(asynchronous=True)
        producer.flush(120)
    finally:
        # Auto-commit is off, so close() commits nothing; the asynchronous commits
        # above stand for the baseline's commit cost.
        consumer.close()
    assert began is not None
    return Rate(copied, time.monotonic() - began)


def _produce(producer: Producer, topic: str, partition: int, message: object) -> None:
    while True:
        try:
            producer.produce(
                topic,
                value=message.value(),  # type: ignore[attr-defined]
                key=message.key(),  # type: ignore[attr-defined]
                partition=partition,
                headers=message.headers(),  # type: ignore[attr-defined]
            )
            return
        except BufferError:
            producer.poll(0.5)
