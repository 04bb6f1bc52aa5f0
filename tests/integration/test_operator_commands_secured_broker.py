"""Operator commands against a SASL_SSL broker that refuses them: a wrong password, a
principal without the rights a command needs. Each ends with a short error and an
exit status, never a traceback, and no output carries a password."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.integration.test_kafka_security import (  # noqa: F401 - fixture
    PRODUCER_USER,
    SINK_USER,
    SecuredBroker,
    secured_broker,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WRONG_PASSWORD = "wrong-sasl-password-never-printed"


def _run(
    broker: SecuredBroker, user: str, password: str, *command: str
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_")}
    env.update(
        {
            "PIPELINE_KAFKA__BOOTSTRAP_SERVERS": broker.bootstrap,
            "PIPELINE_KAFKA__SECURITY_PROTOCOL": "SASL_SSL",
            "PIPELINE_KAFKA__SASL_MECHANISM": "SCRAM-SHA-512",
            "PIPELINE_KAFKA__SASL_USERNAME": user,
            "PIPELINE_KAFKA__SASL_PASSWORD": password,
            "PIPELINE_KAFKA__SSL_CA_LOCATION": str(broker.ca_file),
            "PIPELINE_KAFKA__TOPIC_PREFIX": broker.prefix,
            "PIPELINE_KAFKA__PARTITIONS": "1",
            "PIPELINE_ODOO__URL": "http://127.0.0.1:9",
        }
    )
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def passwords(secured_broker: SecuredBroker) -> Iterator[dict[str, str]]:  # noqa: F811
    yield secured_broker.passwords


COMMANDS = [
    ["topics", "create"],
    ["topics", "plan"],
    ["deadletters", "list", "--topic", "ingest"],
    ["deadletters", "list"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_wrong_password_ends_in_a_short_error_without_the_password(
    secured_broker: SecuredBroker,  # noqa: F811
    command: list[str],
) -> None:
    result = _run(secured_broker, SINK_USER, WRONG_PASSWORD, *command)

    assert result.returncode in (1, 2), result.stderr
    assert "Traceback" not in result.stderr
    assert WRONG_PASSWORD not in result.stdout + result.stderr
    assert len(result.stderr.strip().splitlines()) <= 3, result.stderr


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
@pytest.mark.parametrize("user", [SINK_USER, PRODUCER_USER])
def test_a_principal_without_the_rights_ends_in_a_short_error(
    secured_broker: SecuredBroker,  # noqa: F811
    passwords: dict[str, str],
    user: str,
    command: list[str],
) -> None:
    result = _run(secured_broker, user, passwords[user], *command)

    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.returncode in (0, 1, 2), result.stderr
    for password in passwords.values():
        assert password not in result.stdout + result.stderr
