"""Secrets reach the Kafka client configuration and nothing else.

* each SASL mechanism (PLAIN, SCRAM) becomes the librdkafka settings it needs;
* ``Settings.redacted()``, ``repr`` and ``pipeline settings`` show no secret value;
* no ``--help`` text of any ``pipeline`` command shows one, whether it was set in the
  environment or is a built-in development default.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from eventbus.kafka_config import admin_config, consumer_config, producer_config
from pipeline.settings import IngestSettings, KafkaSettings, OdooSettings, Settings

SECRET_ENVIRONMENT = {
    "PIPELINE_ODOO__API_KEY": "odoo-key-4b1f9c",
    "PIPELINE_KAFKA__SASL_PASSWORD": "kafka-pass-77d2e1",
    "PIPELINE_INGEST__WEBHOOK_SECRETS__BILLING": "hook-billing-90aa31",
    "PIPELINE_INGEST__WEBHOOK_SECRETS__PRODUCT": "hook-product-1c2d3e",
}


@pytest.fixture
def secret_environment(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name, value in SECRET_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PIPELINE_KAFKA__SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("PIPELINE_KAFKA__SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("PIPELINE_KAFKA__SASL_USERNAME", "pipeline-sink")
    return SECRET_ENVIRONMENT


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_mechanism_becomes_client_settings(mechanism: str) -> None:
    kafka = KafkaSettings(
        bootstrap_servers="127.0.0.1:9093",
        security_protocol="SASL_SSL",
        sasl_mechanism=mechanism,
        sasl_username="pipeline-producer",
        sasl_password="p4ss",
        ssl_ca_location="/etc/pipeline/kafka-ca/ca.crt",
    )
    expected = {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": mechanism,
        "sasl.username": "pipeline-producer",
        "sasl.password": "p4ss",
        "ssl.ca.location": "/etc/pipeline/kafka-ca/ca.crt",
    }
    for config in (
        admin_config(kafka),
        producer_config(kafka, "producer"),
        consumer_config(kafka, "group", "consumer"),
    ):
        assert expected.items() <= config.items()


def test_plaintext_sets_no_credentials() -> None:
    config = producer_config(KafkaSettings(), "producer")
    assert config["security.protocol"] == "PLAINTEXT"
    assert not any(key.startswith(("sasl.", "ssl.")) for key in config)


def test_redacted_settings_and_repr_hide_every_secret(
    secret_environment: dict[str, str],
) -> None:
    settings = Settings()
    assert settings.odoo.api_key.get_secret_value() == "odoo-key-4b1f9c"

    shown = json.dumps(settings.redacted()) + repr(settings) + str(settings)

    for value in secret_environment.values():
        assert value not in shown
    assert settings.redacted()["odoo"]["api_key"] == "**********"


def all_commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, child in getattr(command, "commands", {}).items():
        yield from all_commands(child, (*path, name))


def test_no_help_text_shows_a_secret(secret_environment: dict[str, str]) -> None:
    from pipeline.cli import app

    # The development defaults are secrets too: a help text must not teach them.
    built_in = [OdooSettings().api_key.get_secret_value()] + [
        secret.get_secret_value()
        for secret in IngestSettings().webhook_secrets.values()
    ]
    runner = CliRunner()
    commands = list(all_commands(typer.main.get_command(app)))
    assert ("sink",) in commands and ("webhooks",) in commands

    for path in commands:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        for value in [*secret_environment.values(), *built_in]:
            assert value not in result.output, f"pipeline {' '.join(path)} --help"


def test_settings_command_prints_no_secret(secret_environment: dict[str, str]) -> None:
    from pipeline.cli import app

    result = CliRunner().invoke(app, ["settings"])

    assert result.exit_code == 0, result.output
    assert "pipeline-sink" in result.output  # it did print the settings
    for value in secret_environment.values():
        assert value not in result.output
