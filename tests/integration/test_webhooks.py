"""The signed webhook endpoint against the real broker."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from starlette.testclient import TestClient

from eventbus import AvroCodec, Topics
from eventbus.kafka_config import consumer_config, producer_config
from eventbus.topic_admin import ensure_topics
from pipeline.settings import Settings
from pipeline.topic_reader import read_all
from producers.publisher import EventPublisher
from producers.webhook_signature import sign
from producers.webhooks import build_webhook_app

pytestmark = pytest.mark.integration

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CUSTOMER_EVENT = {
    "id": "evt_webhook_test_1",
    "type": "customer.created",
    "created": 1728000000,
    "data": {"object": {"id": "cus_webhook_1", "email": "Ops@Example.test"}},
}


def _signed(settings: Settings, source: str, body: bytes, at: float | None = None):
    secret = settings.ingest.webhook_secrets[source].get_secret_value().encode()
    return {"X-Signature": sign(secret, int(at or time.time()), body)}


def _wait_for_partition_leaders(settings: Settings, timeout: float = 30.0) -> None:
    """Freshly created topics answer offset queries only once leaders are elected."""
    topics = Topics(settings.kafka.topic_prefix)
    consumer = Consumer(consumer_config(settings.kafka, "leader-probe", "leader-probe"))
    deadline = time.monotonic() + timeout
    try:
        for topic in [*topics.source_topics, topics.ingest_deadletter]:
            partitions = (
                consumer.list_topics(topic, timeout=10).topics[topic].partitions
            )
            for partition in partitions:
                while True:
                    try:
                        consumer.get_watermark_offsets(
                            TopicPartition(topic, partition), timeout=5
                        )
                        break
                    except KafkaException:
                        if time.monotonic() > deadline:
                            raise
                        time.sleep(0.2)
    finally:
        consumer.close()


@pytest.fixture
def webhook_client(pipeline_settings: Settings) -> Iterator[TestClient]:
    ensure_topics(pipeline_settings)
    _wait_for_partition_leaders(pipeline_settings)
    publisher = EventPublisher(pipeline_settings)
    with TestClient(build_webhook_app(pipeline_settings, publisher)) as client:
        yield client
    publisher.close()


def _records(settings: Settings, topic: str, subject: str) -> list[dict]:
    codec = AvroCodec()
    return [codec.decode(subject, m.value()) for m in read_all(settings.kafka, topic)]


def test_signed_event_is_on_its_topic_before_the_answer(
    webhook_client: TestClient, pipeline_settings: Settings
) -> None:
    body = json.dumps(CUSTOMER_EVENT).encode()
    headers = {
        **_signed(pipeline_settings, "billing", body),
        "traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01",
    }

    response = webhook_client.post("/webhooks/billing", content=body, headers=headers)

    assert response.status_code == 200
    topics = Topics(pipeline_settings.kafka.topic_prefix)
    events = _records(pipeline_settings, topics.billing, "BusinessEvent")
    assert [e["event_id"] for e in events] == [CUSTOMER_EVENT["id"]]
    event = events[0]
    assert event["account_key"] == "cus_webhook_1"
    assert event["delivery"]["channel"] == "webhook"
    assert event["delivery"]["source_name"] == "/webhooks/billing"
    assert event["trace_context"]["traceparent"].split("-")[1] == TRACE_ID


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "t=1,v1=00",
        "garbage",
    ],
)
def test_bad_signature_is_refused_and_nothing_published(
    webhook_client: TestClient, pipeline_settings: Settings, signature: str | None
) -> None:
    body = json.dumps(CUSTOMER_EVENT).encode()
    headers = {"X-Signature": signature} if signature else {}

    response = webhook_client.post("/webhooks/billing", content=body, headers=headers)

    assert response.status_code == 401
    _assert_nothing_published(pipeline_settings)


def test_wrong_secret_or_stale_timestamp_is_refused(
    webhook_client: TestClient, pipeline_settings: Settings
) -> None:
    body = json.dumps(CUSTOMER_EVENT).encode()
    other_source = _signed(pipeline_settings, "product", body)
    stale = _signed(pipeline_settings, "billing", body, at=time.time() - 3600)
    for headers in (other_source, stale):
        response = webhook_client.post(
            "/webhooks/billing", content=body, headers=headers
        )
        assert response.status_code == 401
    tampered = _signed(pipeline_settings, "billing", body)
    response = webhook_client.post(
        "/webhooks/billing", content=body.replace(b"Ops", b"Eve"), headers=tampered
    )
    assert response.status_code == 401
    _assert_nothing_published(pipeline_settings)


def _assert_nothing_published(settings: Settings) -> None:
    topics = Topics(settings.kafka.topic_prefix)
    for topic in [*topics.source_topics, topics.ingest_deadletter]:
        assert list(read_all(settings.kafka, topic)) == []


def test_malformed_json_is_dead_lettered_with_400(
    webhook_client: TestClient, pipeline_settings: Settings
) -> None:
    body = b'{"type": "zen:event-type:ticket.created", "id": "z'

    response = webhook_client.post(
        "/webhooks/helpdesk",
        content=body,
        headers=_signed(pipeline_settings, "helpdesk", body),
    )

    assert response.status_code == 400
    assert response.json() == {"reason": "invalid_json"}
    topics = Topics(pipeline_settings.kafka.topic_prefix)
    dead = _records(pipeline_settings, topics.ingest_deadletter, "RejectedInput")
    assert [(d["reason"], d["source_name"], d["raw"]) for d in dead] == [
        ("invalid_json", "/webhooks/helpdesk", body)
    ]
    assert list(read_all(pipeline_settings.kafka, topics.helpdesk)) == []


def test_oversized_body_is_413(
    webhook_client: TestClient, pipeline_settings: Settings
) -> None:
    limit = pipeline_settings.ingest.max_line_bytes
    body = json.dumps({"type": "track", "pad": "x" * limit}).encode()
    response = webhook_client.post(
        "/webhooks/product",
        content=body,
        headers=_signed(pipeline_settings, "product", body),
    )
    assert response.status_code == 413
    _assert_nothing_published(pipeline_settings)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_unacknowledged_publish_is_503() -> None:
    settings = Settings(kafka={"bootstrap_servers": f"127.0.0.1:{_closed_port()}"})
    producer = Producer(producer_config(settings.kafka, "webhook-test"))
    publisher = EventPublisher(settings, producer=producer)
    app = build_webhook_app(settings, publisher, ack_timeout=1.0)
    body = json.dumps(CUSTOMER_EVENT).encode()
    try:
        with TestClient(app) as client:
            response = client.post(
                "/webhooks/billing",
                content=body,
                headers=_signed(settings, "billing", body),
            )
        assert response.status_code == 503
    finally:
        producer.purge()
        producer.flush(0)
