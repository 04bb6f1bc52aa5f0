"""Create the pipeline's topics on a cluster if they are missing."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from eventbus.kafka_config import admin_config
from eventbus.topics import Topics, TopicSpec
from pipeline.settings import Settings

logger = logging.getLogger(__name__)


def ensure_topics(settings: Settings, timeout: float = 30.0) -> list[str]:
    """Create every topic of ``Topics.specs`` that does not exist; return those created."""
    topics = Topics(settings.kafka.topic_prefix)
    return create_missing_topics(
        settings, topics.specs(settings.kafka.partitions), timeout
    )


def create_missing_topics(
    settings: Settings, specs: Iterable[TopicSpec], timeout: float = 30.0
) -> list[str]:
    """Create each of ``specs`` that does not exist; return the names created."""
    admin = AdminClient(admin_config(settings.kafka))
    existing = set(admin.list_topics(timeout=timeout).topics)
    missing = [
        NewTopic(
            spec.name,
            spec.partitions,
            settings.kafka.replication_factor,
            config=spec.config,
        )
        for spec in specs
        if spec.name not in existing
    ]
    if not missing:
        return []
    created = []
    for name, future in admin.create_topics(missing, operation_timeout=timeout).items():
        try:
            future.result(timeout=timeout)
            created.append(name)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
    logger.info("created topics %s", ",".join(sorted(created)))
    return created
