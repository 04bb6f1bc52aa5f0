"""The demo's "caught up" test: no lag, and at least the records it knows were sent."""

from __future__ import annotations

from confluent_kafka import TopicPartition

from pipeline import idle_wait
from pipeline.idle_wait import GroupWatch, LagProbe


class FakeMetadata:
    def __init__(self, topics: dict[str, list[int]]) -> None:
        self.topics = {
            name: type("T", (), {"partitions": dict.fromkeys(parts)})()
            for name, parts in topics.items()
        }


class FakeConsumer:
    def __init__(
        self, topics: dict[str, list[int]], committed: dict, ends: dict
    ) -> None:
        self._topics, self._committed, self._ends = topics, committed, ends

    def list_topics(self, timeout: float) -> FakeMetadata:
        return FakeMetadata(self._topics)

    def committed(self, partitions: list[TopicPartition], timeout: float):
        return [
            TopicPartition(
                tp.topic,
                tp.partition,
                self._committed.get((tp.topic, tp.partition), -1001),
            )
            for tp in partitions
        ]

    def get_watermark_offsets(self, tp: TopicPartition, timeout: float):
        return (0, self._ends[(tp.topic, tp.partition)])


def _probe(watch: GroupWatch, consumer: FakeConsumer) -> LagProbe:
    probe = object.__new__(LagProbe)
    probe.watch = watch
    probe._consumer = consumer
    return probe


def test_topics_missing_from_metadata_are_not_caught_up_when_records_are_expected():
    consumer = FakeConsumer({}, {}, {})
    assert (
        _probe(GroupWatch("g", ["source.crm"], min_committed=5), consumer).lag() is None
    )
    assert _probe(GroupWatch("g", ["source.crm"]), consumer).lag() == 0


def test_no_lag_counts_only_once_the_expected_records_are_committed() -> None:
    topics = {"source.crm": [0, 1]}
    ends = {("source.crm", 0): 3, ("source.crm", 1): 2}
    watch = GroupWatch("g", ["source.crm"], min_committed=5)

    before = FakeConsumer(topics, {}, ends)
    done = FakeConsumer(topics, {("source.crm", 0): 3, ("source.crm", 1): 2}, ends)

    assert _probe(watch, before).lag() is None
    assert _probe(watch, done).lag() == 0


def test_held_events_keep_the_pipeline_busy_until_the_buffer_is_empty() -> None:
    held = iter([3, None, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    asked: list[int | None] = []

    def held_events() -> int | None:
        asked.append(next(held))
        return asked[-1]

    lags = idle_wait._wait([], 0.0, 30.0, lambda: None, held_events)

    assert lags == {idle_wait.REORDER_BUFFER: 0}
    assert asked[:4] == [3, None, 1, 0]
