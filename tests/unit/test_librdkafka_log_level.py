"""librdkafka's own log lines go through Python logging, at debug level."""

from __future__ import annotations

import logging

import pytest

from eventbus.kafka_config import (
    LIBRDKAFKA_LOG,
    LIBRDKAFKA_LOGGER,
    admin_config,
    consumer_config,
    producer_config,
)
from pipeline.settings import KafkaSettings


def _as_librdkafka_logs(level: int) -> None:
    # The call confluent-kafka makes for each line librdkafka logs.
    LIBRDKAFKA_LOG.log(
        level,
        "%s [%s] %s",
        "FAIL",
        "rdkafka#consumer-1",
        "127.0.0.1:9/bootstrap: Connect to ipv4#127.0.0.1:9 failed",
    )


def test_every_client_config_routes_librdkafka_lines_through_python_logging() -> None:
    kafka = KafkaSettings(bootstrap_servers="127.0.0.1:9")

    configs = [
        admin_config(kafka),
        producer_config(kafka, "producer"),
        consumer_config(kafka, "group", "consumer"),
    ]

    assert all(config["logger"] is LIBRDKAFKA_LOG for config in configs)


def test_a_connection_failure_line_is_debug_with_its_own_severity_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG, logger=LIBRDKAFKA_LOGGER.name):
        _as_librdkafka_logs(logging.ERROR)

    [record] = caplog.records
    assert record.name == "librdkafka"
    assert record.levelno == logging.DEBUG
    assert record.librdkafka_level == "error"  # type: ignore[attr-defined]
    assert record.getMessage().startswith("FAIL [rdkafka#consumer-1] ")


def test_at_the_operators_default_level_a_connection_failure_prints_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO):
        _as_librdkafka_logs(logging.ERROR)
        _as_librdkafka_logs(logging.WARNING)

    assert caplog.records == []


def test_a_critical_line_stays_critical(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        _as_librdkafka_logs(logging.CRITICAL)

    assert [record.levelno for record in caplog.records] == [logging.CRITICAL]
