"""Operator commands pointed at a bootstrap address where no broker listens.

Each command runs as its own process, as an operator would run it, so whatever
librdkafka writes to the real stderr is seen too. Nothing listens on the port: a socket
holds it bound on 127.0.0.1 without listening, so every connection is refused.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from eventbus.broker_reachability import (
    BROKER_ANSWER_SECONDS,
    KafkaUnreachableError,
    require_reachable_broker,
)
from pipeline.settings import KafkaSettings

pytestmark = pytest.mark.integration

# Interpreter start and imports on a loaded two-core machine, on top of the probe.
START_UP_ALLOWANCE_SECONDS = 15.0
SASL_PASSWORD = "never-printed-sasl-secret"


@dataclass(frozen=True)
class Finished:
    command: list[str]
    exit_code: int
    stdout: str
    stderr: str
    seconds: float


@pytest.fixture
def silent_address() -> Iterator[str]:
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    host, port = holder.getsockname()
    try:
        yield f"{host}:{port}"
    finally:
        holder.close()


def _environment(bootstrap: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PIPELINE_")
    }
    env.update(
        {
            "PIPELINE_KAFKA__BOOTSTRAP_SERVERS": bootstrap,
            "PIPELINE_KAFKA__SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "PIPELINE_KAFKA__SASL_MECHANISM": "PLAIN",
            "PIPELINE_KAFKA__SASL_USERNAME": "operator",
            "PIPELINE_KAFKA__SASL_PASSWORD": SASL_PASSWORD,
            "PIPELINE_ODOO__URL": "http://127.0.0.1:9",
        }
    )
    return env


def _run_all(commands: list[list[str]], bootstrap: str) -> list[Finished]:
    """Run the commands side by side (each waits for the same timeout) and collect."""
    env = _environment(bootstrap)
    started = time.monotonic()
    running = [
        (
            command,
            subprocess.Popen(
                [sys.executable, "-m", "pipeline.cli", *command],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            ),
        )
        for command in commands
    ]
    finished = []
    for command, process in running:
        stdout, stderr = process.communicate(timeout=120)
        finished.append(
            Finished(
                command,
                process.returncode,
                stdout,
                stderr,
                time.monotonic() - started,
            )
        )
    return finished


def _assert_one_clear_line(result: Finished, bootstrap: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, (result.command, result.stderr)
    assert lines[0].startswith("error: cannot reach Kafka at "), result.stderr
    assert bootstrap in lines[0]
    assert "Traceback" not in result.stderr
    assert "FAIL" not in result.stderr and "%3|" not in result.stderr
    assert SASL_PASSWORD not in result.stderr + result.stdout
    assert result.seconds < BROKER_ANSWER_SECONDS + START_UP_ALLOWANCE_SECONDS, (
        result.command,
        result.seconds,
    )


def test_sink_tools_exit_2_naming_the_servers_within_the_bound(
    silent_address: str,
) -> None:
    commands = [
        ["deadletters", "list"],
        ["deadletters", "list", "--topic", "ingest"],
        ["deadletters", "redrive", "--all"],
        ["reconcile"],
        ["replay", "--dry-run"],
    ]

    results = _run_all(commands, silent_address)

    for result in results:
        assert result.exit_code == 2, (result.command, result.stderr)
        _assert_one_clear_line(result, silent_address)


def test_topic_commands_exit_1_so_plan_never_reports_drift(
    silent_address: str,
) -> None:
    # `topics plan` exits 2 when the cluster differs from the declaration; a cluster
    # that does not answer is an error (1), never drift.
    results = _run_all(
        [["topics", "plan"], ["topics", "apply"], ["topics", "create"]], silent_address
    )

    for result in results:
        assert result.exit_code == 1, (result.command, result.stderr)
        _assert_one_clear_line(result, silent_address)


def test_the_check_gives_up_after_its_timeout_naming_the_servers(
    silent_address: str,
) -> None:
    kafka = KafkaSettings(bootstrap_servers=silent_address)
    started = time.monotonic()

    with pytest.raises(KafkaUnreachableError) as raised:
        require_reachable_broker(kafka, timeout=1.0)

    assert time.monotonic() - started < 1.0 + 3.0
    assert raised.value.bootstrap_servers == silent_address
    assert silent_address in str(raised.value)


def test_a_refused_connection_is_reported_without_waiting_for_the_timeout(
    silent_address: str,
) -> None:
    kafka = KafkaSettings(bootstrap_servers=silent_address)
    started = time.monotonic()

    with pytest.raises(KafkaUnreachableError) as raised:
        require_reachable_broker(kafka, timeout=30.0)

    # Refused at once, so the answer comes after the first attempt, not after 30 s.
    assert time.monotonic() - started < 10.0
    assert "Connection refused" in raised.value.reason


def test_the_check_passes_on_a_live_broker(kafka_bootstrap: str) -> None:
    require_reachable_broker(KafkaSettings(bootstrap_servers=kafka_bootstrap))
