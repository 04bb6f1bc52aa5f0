"""Kafka security: SASL_SSL with SCRAM-SHA-512 and ACLs, through the pipeline's own
client configuration (``eventbus.kafka_config`` built from ``KafkaSettings``).

One broker with a SASL_SSL listener (certificates from a CA made in the test), SCRAM
users created at format time and the StandardAuthorizer. ACLs as docs/security.md
lists them: the producer principal writes the source topics and the ingest dead-letter
topic; the sink principal reads the enriched topic in its group and writes the sink
dead-letter topic, nothing else.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from confluent_kafka import (
    Consumer,
    KafkaError,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)

from devstack.broker_security import (
    ADMIN_USER,
    LISTENER,
    SCRAM_MECHANISM,
    make_certificates,
    scram_format_arguments,
    secured_listener_properties,
)
from devstack.local_cluster import LocalCluster
from eventbus.kafka_config import admin_config, consumer_config, producer_config
from eventbus.topic_admin import ensure_topics
from eventbus.topics import Topics
from pipeline.settings import KafkaSettings, Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PRODUCER_USER = "pipeline-producer"
SINK_USER = "pipeline-sink"
SINK_GROUP = "odoo-sink"


@dataclass(frozen=True)
class SecuredBroker:
    bootstrap: str
    ca_file: Path
    # Kept out of repr, so a failing assertion never prints a password.
    passwords: dict[str, str] = field(repr=False)
    prefix: str = ""

    def kafka(self, user: str, password: str | None = None) -> KafkaSettings:
        return KafkaSettings(
            bootstrap_servers=self.bootstrap,
            security_protocol="SASL_SSL",
            sasl_mechanism=SCRAM_MECHANISM,
            sasl_username=user,
            sasl_password=password or self.passwords[user],
            ssl_ca_location=str(self.ca_file),
            topic_prefix=self.prefix,
            partitions=1,
        )


def allow(
    principal: str,
    resource: ResourceType,
    name: str,
    operation: AclOperation,
    pattern: ResourcePatternType = ResourcePatternType.LITERAL,
) -> AclBinding:
    return AclBinding(
        resource,
        name,
        pattern,
        f"User:{principal}",
        "*",
        operation,
        AclPermissionType.ALLOW,
    )


def pipeline_acls(topics: Topics, sink_group: str) -> list[AclBinding]:
    """The ACLs of docs/security.md for the producer and sink principals."""
    topic, group = ResourceType.TOPIC, ResourceType.GROUP
    write, read, describe = AclOperation.WRITE, AclOperation.READ, AclOperation.DESCRIBE
    producer_topics = [*topics.source_topics, topics.ingest_deadletter]
    return [
        *(allow(PRODUCER_USER, topic, t, op) for t in producer_topics for op in (write, describe)),
        allow(SINK_USER, topic, topics.enriched, read),
        allow(SINK_USER, topic, topics.enriched, describe),
        allow(SINK_USER, group, sink_group, read),
        allow(SINK_USER, topic, topics.sink_deadletter, write),
        allow(SINK_USER, topic, topics.sink_deadletter, describe),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def secured_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredBroker]:
    directory = tmp_path_factory.mktemp("secured-kafka")
    passwords = {
        ADMIN_USER: secrets.token_urlsafe(16),
        PRODUCER_USER: secrets.token_urlsafe(16),
        SINK_USER: secrets.token_urlsafe(16),
    }
    certificates = make_certificates(directory / "tls")
    admin_client = {
        "security.protocol": LISTENER,
        "sasl.mechanism": SCRAM_MECHANISM,
        "sasl.username": ADMIN_USER,
        "sasl.password": passwords[ADMIN_USER],
        "ssl.ca.location": str(certificates.ca_file),
    }
    broker = LocalCluster(
        data_dir=directory / "cluster",
        size=1,
        listener=LISTENER,
        extra_properties=secured_listener_properties(
            certificates, passwords[ADMIN_USER]
        ),
        format_arguments=scram_format_arguments(passwords),
        client_properties=admin_client,
    )
    broker.start(timeout=600)  # generous: two cores, possibly shared
    try:
        secured = SecuredBroker(
            broker.bootstrap_servers,
            certificates.ca_file,
            passwords,
            f"s{uuid.uuid4().hex[:8]}.",
        )
        # Topics and ACLs, as the admin principal (a super user).
        admin_settings = Settings(kafka=secured.kafka(ADMIN_USER))
        ensure_topics(admin_settings)
        admin = AdminClient(admin_config(admin_settings.kafka))
        topics = Topics(secured.prefix)
        wanted = pipeline_acls(topics, SINK_GROUP)
        for future in admin.create_acls(wanted).values():
            future.result(timeout=30)
        wait_until_enforced(admin, len(wanted))
        yield secured
    finally:
        broker.stop()


def wait_until_enforced(admin: AdminClient, count: int, timeout: float = 60) -> None:
    """The broker answers ACL descriptions from its authorizer: once it lists every
    binding, it enforces them."""
    everything = AclBindingFilter(
        ResourceType.ANY,
        None,
        ResourcePatternType.ANY,
        None,
        None,
        AclOperation.ANY,
        AclPermissionType.ANY,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(admin.describe_acls(everything).result(timeout=30)) >= count:
            return
        time.sleep(0.5)
    raise AssertionError(f"the broker did not list {count} ACLs within {timeout}s")


def produce_one(kafka: KafkaSettings, topic: str, client_id: str) -> KafkaError | None:
    """Produce one record through the pipeline's producer config; the delivery error."""
    outcome: list[KafkaError | None] = []
    producer = Producer(
        {**producer_config(kafka, client_id), "message.timeout.ms": 20000}
    )
    producer.produce(
        topic, key=b"k", value=b"v", on_delivery=lambda e, m: outcome.append(e)
    )
    producer.flush(30)
    assert outcome, f"no delivery report from {topic} within 30s"
    return outcome[0]


def test_producer_principal_writes_source_topics(secured_broker: SecuredBroker) -> None:
    topics = Topics(secured_broker.prefix)
    for topic in (topics.billing, topics.ingest_deadletter):
        assert produce_one(secured_broker.kafka(PRODUCER_USER), topic, "p") is None


def test_sink_principal_may_not_write_source_topics(
    secured_broker: SecuredBroker,
) -> None:
    topics = Topics(secured_broker.prefix)
    error = produce_one(secured_broker.kafka(SINK_USER), topics.billing, "sink")

    assert error is not None
    assert error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, error
    # What the sink may write, it writes.
    assert (
        produce_one(secured_broker.kafka(SINK_USER), topics.sink_deadletter, "s")
        is None
    )


def test_sink_principal_reads_enriched_in_its_group_only(
    secured_broker: SecuredBroker,
) -> None:
    topics = Topics(secured_broker.prefix)
    admin = secured_broker.kafka(ADMIN_USER)
    assert produce_one(admin, topics.enriched, "admin") is None

    consumer = Consumer(
        consumer_config(secured_broker.kafka(SINK_USER), SINK_GROUP, "sink")
    )
    try:
        consumer.assign([TopicPartition(topics.enriched, 0, 0)])
        message = first_event(consumer)
        assert message is not None and message.error() is None, message
        assert message.value() == b"v"
        consumer.commit(message=message, asynchronous=False)
    finally:
        consumer.close()

    # A source topic is not the sink's to read: the subscription reports the refusal.
    consumer = Consumer(
        consumer_config(secured_broker.kafka(SINK_USER), SINK_GROUP, "sink")
    )
    try:
        consumer.subscribe([topics.billing])
        refused = first_event(consumer)
        assert refused is not None and refused.error() is not None
        assert refused.error().code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    finally:
        consumer.close()


def first_event(consumer: Consumer, timeout: float = 60) -> Message | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        event = consumer.poll(1)
        if event is not None:
            return event
    return None


def test_wrong_password_is_refused_without_echoing_it(
    secured_broker: SecuredBroker,
) -> None:
    wrong = "not-the-" + secrets.token_urlsafe(8)
    kafka = secured_broker.kafka(PRODUCER_USER, password=wrong)
    admin = AdminClient({**admin_config(kafka), "socket.timeout.ms": 10000})

    with pytest.raises(Exception) as refused:  # noqa: PT011 - librdkafka's own types
        admin.list_topics(timeout=15)

    text = str(refused.value)
    assert "SASL" in text or "Authentication" in text or "_TRANSPORT" in text, text
    assert wrong not in text
