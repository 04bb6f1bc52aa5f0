"""The Faust worker connects with the same Kafka address and security as other clients."""

from __future__ import annotations

import faust
from pydantic import SecretStr

from pipeline.settings import KafkaSettings
from processors.app import faust_broker_credentials, faust_broker_urls


def test_each_bootstrap_server_becomes_its_own_faust_url() -> None:
    kafka = KafkaSettings(bootstrap_servers="127.0.0.1:9092, 127.0.0.1:9093")
    assert faust_broker_urls(kafka) == "kafka://127.0.0.1:9092;kafka://127.0.0.1:9093"


def test_plaintext_needs_no_credentials() -> None:
    assert faust_broker_credentials(KafkaSettings()) is None


def test_sasl_ssl_passes_mechanism_user_and_password() -> None:
    kafka = KafkaSettings(
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="processors",
        sasl_password=SecretStr("s3cret"),
    )
    credentials = faust_broker_credentials(kafka)

    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.username == "processors"
    assert credentials.password == "s3cret"
    assert str(credentials.mechanism.value) == "SCRAM-SHA-512"
    assert credentials.ssl_context is not None


def test_ssl_without_sasl_uses_a_tls_context() -> None:
    credentials = faust_broker_credentials(KafkaSettings(security_protocol="SSL"))
    assert isinstance(credentials, faust.SSLCredentials)
