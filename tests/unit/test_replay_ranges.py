"""Which offsets a replay covers: from an offset, up to an offset, or both."""

from __future__ import annotations

from confluent_kafka import TopicPartition

from sinks.replay import _ranges


class FakeTopicMetadata:
    def __init__(self, partitions: list[int]) -> None:
        self.partitions = {p: None for p in partitions}


class FakeMetadata:
    def __init__(self, topic: str, partitions: list[int]) -> None:
        self.topics = {topic: FakeTopicMetadata(partitions)}


class FakeConsumer:
    """Two partitions holding offsets 10..99 and 0..49."""

    watermarks = {0: (10, 100), 1: (0, 50)}

    def list_topics(self, topic: str, timeout: float) -> FakeMetadata:
        return FakeMetadata(topic, list(self.watermarks))

    def get_watermark_offsets(self, tp: TopicPartition, timeout: float):
        return self.watermarks[tp.partition]


def _spans(**kwargs) -> dict[int, tuple[int, int]]:
    ranges = _ranges(FakeConsumer(), "enriched.accounts", from_timestamp=None, **kwargs)
    return {r.partition: (r.start, r.end) for r in ranges}


def test_default_is_everything_retained_up_to_the_current_end() -> None:
    assert _spans(from_offset=None, partitions=None) == {0: (10, 100), 1: (0, 50)}


def test_an_offset_range_is_clamped_to_what_each_partition_holds() -> None:
    assert _spans(from_offset=20, to_offset=60, partitions=None) == {
        0: (20, 60),
        1: (20, 50),
    }


def test_an_end_before_the_start_replays_nothing() -> None:
    assert _spans(from_offset=40, to_offset=30, partitions=[0]) == {0: (40, 40)}
