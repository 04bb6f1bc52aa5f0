"""A Kafka client that cannot even be made (a CA file that is not there) ends an
operator command with one error naming the reason, like an unreachable broker, never
with a traceback or a credential."""

from __future__ import annotations

from pathlib import Path

import pytest

from eventbus.broker_reachability import KafkaUnreachableError, require_reachable_broker
from pipeline.settings import KafkaSettings

PASSWORD = "unit-sasl-password-7f3a"


def test_a_client_that_cannot_be_made_is_reported_with_its_reason(
    tmp_path: Path,
) -> None:
    kafka = KafkaSettings(
        bootstrap_servers="127.0.0.1:9",
        security_protocol="SASL_SSL",
        sasl_mechanism="PLAIN",
        sasl_username="operator",
        sasl_password=PASSWORD,
        ssl_ca_location=str(tmp_path / "missing-ca.pem"),
    )

    with pytest.raises(KafkaUnreachableError) as raised:
        require_reachable_broker(kafka, timeout=1.0)

    message = str(raised.value)
    assert "ssl.ca.location" in message
    assert "127.0.0.1:9" in message
    assert PASSWORD not in message
