"""librdkafka (confluent-kafka) client configuration built from settings."""

from __future__ import annotations

import logging
from typing import Any

from pipeline.settings import KafkaSettings

# librdkafka's own log lines (connection refused, coordinator moves...) go through this
# logger, so they come out as structured lines like everything else instead of raw stderr.
LIBRDKAFKA_LOGGER = logging.getLogger("librdkafka")


def _security(kafka: KafkaSettings) -> dict[str, Any]:
    config: dict[str, Any] = {
        "security.protocol": kafka.security_protocol,
        "logger": LIBRDKAFKA_LOGGER,
    }
    if kafka.sasl_mechanism:
        config["sasl.mechanism"] = kafka.sasl_mechanism
        config["sasl.username"] = kafka.sasl_username or ""
        config["sasl.password"] = (
            kafka.sasl_password.get_secret_value() if kafka.sasl_password else ""
        )
    if kafka.ssl_ca_location:
        config["ssl.ca.location"] = kafka.ssl_ca_location
    return config


def admin_config(kafka: KafkaSettings) -> dict[str, Any]:
    return {"bootstrap.servers": kafka.bootstrap_servers, **_security(kafka)}


def producer_config(kafka: KafkaSettings, client_id: str) -> dict[str, Any]:
    """An idempotent producer: acks from all in-sync replicas, no reordering on retry."""
    return {
        "bootstrap.servers": kafka.bootstrap_servers,
        "client.id": client_id,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "compression.type": "lz4",
        **_security(kafka),
    }


def consumer_config(
    kafka: KafkaSettings, group_id: str, client_id: str
) -> dict[str, Any]:
    """A consumer that commits only what the caller says it has finished."""
    return {
        "bootstrap.servers": kafka.bootstrap_servers,
        "group.id": group_id,
        "client.id": client_id,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
        **_security(kafka),
    }
