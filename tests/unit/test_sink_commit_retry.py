"""A failed offset commit during a coordinator move is retried, never fatal."""

from __future__ import annotations

from typing import Any

from confluent_kafka import KafkaError, KafkaException, TopicPartition

from sinks import consumer as sink_consumer


class FlakyCommitConsumer:
    def __init__(self, failures: list[int]) -> None:
        self.failures = list(failures)
        self.committed: list[list[TopicPartition]] = []

    def commit(self, offsets: list[TopicPartition], asynchronous: bool) -> None:
        assert asynchronous is False
        if self.failures:
            raise KafkaException(KafkaError(self.failures.pop(0)))
        self.committed.append(offsets)


def _sink_with(consumer: Any) -> sink_consumer.OdooSink:
    sink = object.__new__(sink_consumer.OdooSink)
    sink._consumer = consumer
    return sink


def test_commit_is_retried_while_the_coordinator_loads(monkeypatch) -> None:
    monkeypatch.setattr(sink_consumer.time, "sleep", lambda _seconds: None)
    consumer = FlakyCommitConsumer(
        [KafkaError.COORDINATOR_LOAD_IN_PROGRESS, KafkaError.NOT_COORDINATOR]
    )
    offsets = [TopicPartition("enriched.accounts", 0, 42)]

    _sink_with(consumer)._commit(offsets)

    assert consumer.committed == [offsets]


def test_a_commit_that_keeps_failing_is_logged_not_raised(monkeypatch, caplog) -> None:
    monkeypatch.setattr(sink_consumer.time, "sleep", lambda _seconds: None)
    monkeypatch.setattr(sink_consumer, "COMMIT_RETRY_SECONDS", 0.0)
    consumer = FlakyCommitConsumer([KafkaError.COORDINATOR_LOAD_IN_PROGRESS] * 3)

    _sink_with(consumer)._commit([TopicPartition("enriched.accounts", 0, 7)])

    assert consumer.committed == []
    assert "offset commit failed" in caplog.text
