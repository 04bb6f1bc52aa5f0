"""Partitions paused while Odoo is down resume after a pause that doubles, up to a cap."""

from __future__ import annotations

import pytest
from confluent_kafka import TopicPartition

from sinks import consumer
from sinks.consumer import OutagePause


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(consumer.time, "monotonic", fake.monotonic)
    return fake


def test_pause_doubles_up_to_its_cap_and_resets_after_a_write(clock: Clock) -> None:
    pause = OutagePause(first_seconds=1.0, max_seconds=3.0)
    partitions = [TopicPartition("enriched", 0), TopicPartition("enriched", 1)]

    waits = [pause.paused(partitions) for _ in range(4)]
    pause.reset()

    assert waits == [1.0, 2.0, 3.0, 3.0]
    assert pause.paused(partitions) == 1.0


def test_partitions_resume_only_once_the_pause_is_over(clock: Clock) -> None:
    pause = OutagePause(first_seconds=5.0, max_seconds=60.0)
    pause.paused([TopicPartition("enriched", 2)])

    clock.now += 4.9
    early = pause.due()
    clock.now += 0.2
    due = pause.due()

    assert early == []
    assert [(p.topic, p.partition) for p in due] == [("enriched", 2)]
    assert not pause.active
    assert pause.due() == []


def test_revoked_partitions_are_forgotten(clock: Clock) -> None:
    pause = OutagePause(first_seconds=1.0, max_seconds=1.0)
    pause.paused([TopicPartition("enriched", 0)])

    pause.forget([TopicPartition("enriched", 0)])

    assert not pause.active
