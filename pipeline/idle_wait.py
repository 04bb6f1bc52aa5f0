"""Decide when the pipeline has caught up: every consumer group has committed the end of
every partition it reads, and that stayed true for a quiet period."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GroupWatch:
    group_id: str
    topics: list[str]


def consumer_lag(admin: AdminClient, probe: Consumer, watch: GroupWatch) -> int:
    """Records on ``watch.topics`` not yet committed by ``watch.group_id``."""
    metadata = admin.list_topics(timeout=10)
    partitions = [
        TopicPartition(topic, p)
        for topic in watch.topics
        if topic in metadata.topics
        for p in metadata.topics[topic].partitions
    ]
    if not partitions:
        return 0
    request = [ConsumerGroupTopicPartitions(watch.group_id, partitions)]
    committed = admin.list_consumer_group_offsets(request)[watch.group_id].result(
        timeout=10
    )
    committed_by_tp = {
        (tp.topic, tp.partition): tp.offset for tp in committed.topic_partitions
    }

    lag = 0
    for tp in partitions:
        low, high = probe.get_watermark_offsets(tp, timeout=10)
        position = committed_by_tp.get((tp.topic, tp.partition), -1)
        lag += high - (position if position >= 0 else low)
    return lag


def wait_until_idle(
    bootstrap_servers: str,
    watches: list[GroupWatch],
    *,
    quiet_seconds: float = 4.0,
    timeout_seconds: float = 300.0,
    still_running: Callable[[], str | None] = lambda: None,
) -> dict[str, int]:
    """Block until every watched group has zero lag for ``quiet_seconds``.

    ``still_running`` returns the name of a crashed component (or None); a crash ends the
    wait at once instead of timing out. Returns the last lag per group. Raises
    ``TimeoutError`` with the remaining lag when the deadline passes.
    """
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    # The probe only reads watermarks; it never joins its group or commits.
    probe = Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": "lag-probe",
            "enable.auto.commit": False,
        }
    )
    try:
        return _wait(
            admin, probe, watches, quiet_seconds, timeout_seconds, still_running
        )
    finally:
        probe.close()


def _wait(
    admin: AdminClient,
    probe: Consumer,
    watches: list[GroupWatch],
    quiet_seconds: float,
    timeout_seconds: float,
    still_running: Callable[[], str | None],
) -> dict[str, int]:
    deadline = time.monotonic() + timeout_seconds
    quiet_since: float | None = None
    last_report = 0.0
    lags: dict[str, int] = {}
    while time.monotonic() < deadline:
        crashed = still_running()
        if crashed:
            raise RuntimeError(f"{crashed} stopped while the pipeline was draining")
        lags = {w.group_id: consumer_lag(admin, probe, w) for w in watches}
        now = time.monotonic()
        if now - last_report > 5:
            logger.info("draining: records not yet processed %s", lags)
            last_report = now
        if all(lag == 0 for lag in lags.values()):
            quiet_since = quiet_since or now
            if now - quiet_since >= quiet_seconds:
                return lags
        else:
            quiet_since = None
        time.sleep(0.5)
    raise TimeoutError(f"pipeline did not drain in {timeout_seconds:.0f}s; lag {lags}")
