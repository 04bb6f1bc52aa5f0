"""A command whose broker goes away after its first check ends in one line, exit 1."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException

from pipeline import cli


def test_kafka_failing_mid_command_ends_in_one_line_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broker_gone() -> None:
        raise KafkaException(KafkaError(KafkaError._TRANSPORT, "Connection refused"))

    monkeypatch.setattr(cli, "app", broker_gone)

    with pytest.raises(SystemExit) as exited:
        cli.run()

    assert exited.value.code == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: Kafka failed while the command ran")
    assert "Connection refused" in lines[0]
