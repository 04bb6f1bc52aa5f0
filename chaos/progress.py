"""How far a consumer group has got: the sum of its committed offsets, and its lag.

Recovery after a fault is the time until the groups move again: each group has either
committed past where it stood when the fault was lifted, or has nothing left to read.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaException, TopicPartition

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GroupPosition:
    committed: int
    lag: int


class GroupProgress:
    """Reads one group's committed offsets without joining the group."""

    def __init__(
        self, bootstrap_servers: str, group_id: str, topics: list[str]
    ) -> None:
        self.group_id = group_id
        self.topics = topics
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap_servers,
                "group.id": group_id,
                "enable.auto.commit": False,
                # A restarted broker refuses connections for a while; keep retrying.
                "reconnect.backoff.max.ms": 1000,
                # Refused connections during a broker restart are expected here.
                "log_level": 2,
            }
        )

    def position(self) -> GroupPosition | None:
        """None while the broker or the group coordinator cannot answer."""
        try:
            return self._position()
        except KafkaException as exc:
            logger.debug("position of %s unknown for now: %s", self.group_id, exc)
            return None

    def _position(self) -> GroupPosition:
        metadata = self._consumer.list_topics(timeout=5)
        partitions = [
            TopicPartition(topic, p)
            for topic in self.topics
            if topic in metadata.topics
            for p in metadata.topics[topic].partitions
        ]
        committed_total, lag = 0, 0
        for tp in self._consumer.committed(partitions, timeout=5):
            low, high = self._consumer.get_watermark_offsets(tp, timeout=5)
            offset = tp.offset if tp.offset >= 0 else low
            committed_total += offset
            lag += high - offset
        return GroupPosition(committed_total, lag)

    def close(self) -> None:
        self._consumer.close()


def seconds_until_moving(
    groups: list[GroupProgress],
    *,
    timeout: float,
    interval: float = 0.5,
    supervise: Callable[[], object] = lambda: None,
) -> float | None:
    """Seconds until every group committed past its current position or has no lag.

    Called right after a fault is lifted. None when that did not happen in ``timeout``.
    """
    began = time.monotonic()
    start: dict[str, int | None] = {}
    for group in groups:
        position = group.position()
        start[group.group_id] = None if position is None else position.committed
    moving: set[str] = set()
    while time.monotonic() - began < timeout:
        supervise()
        for group in groups:
            if group.group_id in moving:
                continue
            position = group.position()
            if position is None:
                continue
            before = start[group.group_id]
            if before is None:
                # The first answer after the fault sets the reference point.
                start[group.group_id] = position.committed
                before = position.committed
            if position.lag == 0 or position.committed > before:
                moving.add(group.group_id)
        if len(moving) == len(groups):
            return time.monotonic() - began
        time.sleep(interval)
    return None
