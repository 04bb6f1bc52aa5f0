"""Decide when the pipeline has caught up: every consumer group has committed the end of
every partition it reads, the processors hold no event in their reorder buffer, and that
stayed true for a quiet period."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from confluent_kafka import Consumer, KafkaException, TopicPartition

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GroupWatch:
    """A consumer group to wait for, on the topics it reads.

    ``min_committed`` is how many records the group must have committed in total before
    it can count as caught up: without it, a moment when the broker's metadata does not
    list the topics yet (or the group has not started) would read as "no lag".
    """

    group_id: str
    topics: list[str]
    min_committed: int = 0


class LagProbe:
    """Reads a group's committed offsets and the topics' end offsets.

    Committed offsets are fetched through a consumer configured with the watched group id
    that never subscribes (so it never joins the group or commits). The admin API's
    ListConsumerGroupOffsets would be the obvious call, but the librdkafka bundled with
    confluent-kafka 2.16 crashes the process while parsing some of its responses.
    """

    def __init__(self, bootstrap_servers: str, watch: GroupWatch) -> None:
        self.watch = watch
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap_servers,
                "group.id": watch.group_id,
                "enable.auto.commit": False,
            }
        )

    def lag(self) -> int | None:
        """Records on the watched topics not yet committed by the group, or None while
        the group coordinator cannot answer (it moves while a group is forming)."""
        try:
            return self._lag()
        except KafkaException as exc:
            logger.debug("lag of %s unknown for now: %s", self.watch.group_id, exc)
            return None

    def _lag(self) -> int | None:
        metadata = self._consumer.list_topics(timeout=10)
        partitions = [
            TopicPartition(topic, p)
            for topic in self.watch.topics
            if topic in metadata.topics
            for p in metadata.topics[topic].partitions
        ]
        if not partitions:
            return None if self.watch.min_committed else 0
        committed = self._consumer.committed(partitions, timeout=10)
        lag = 0
        committed_total = 0
        for tp in committed:
            low, high = self._consumer.get_watermark_offsets(tp, timeout=10)
            lag += high - (tp.offset if tp.offset >= 0 else low)
            committed_total += max(tp.offset, 0)
        if committed_total < self.watch.min_committed:
            return None
        return lag

    def close(self) -> None:
        self._consumer.close()


REORDER_BUFFER = "reorder-buffer"


def held_events_probe(web_port: int) -> Callable[[], int | None]:
    """Events the processors' reorder buffer holds, read from the worker's web view on
    loopback; None while the worker does not answer."""
    url = f"http://127.0.0.1:{web_port}/reorder/"

    def held_events() -> int | None:
        try:
            answer = httpx.get(url, timeout=2.0)
            answer.raise_for_status()
            held = answer.json().get("held_events")
        except (httpx.HTTPError, ValueError) as exc:
            logger.debug("reorder buffer depth unknown for now: %s", exc)
            return None
        return held if isinstance(held, int) else None

    return held_events


def wait_until_idle(
    bootstrap_servers: str,
    watches: list[GroupWatch],
    *,
    quiet_seconds: float = 4.0,
    timeout_seconds: float = 300.0,
    still_running: Callable[[], str | None] = lambda: None,
    held_events: Callable[[], int | None] | None = None,
) -> dict[str, int | None]:
    """Block until every watched group has zero lag for ``quiet_seconds``.

    ``held_events`` (``held_events_probe``) must read zero too: events held in the
    reorder buffer are consumed and committed but not yet applied. ``still_running``
    returns the name of a crashed component (or None); a crash ends the wait at once
    instead of timing out. Returns the last lag per group. Raises ``TimeoutError``
    with the remaining lag when the deadline passes.
    """
    probes = [LagProbe(bootstrap_servers, watch) for watch in watches]
    try:
        return _wait(probes, quiet_seconds, timeout_seconds, still_running, held_events)
    finally:
        for probe in probes:
            probe.close()


def _wait(
    probes: list[LagProbe],
    quiet_seconds: float,
    timeout_seconds: float,
    still_running: Callable[[], str | None],
    held_events: Callable[[], int | None] | None,
) -> dict[str, int | None]:
    deadline = time.monotonic() + timeout_seconds
    quiet_since: float | None = None
    last_report = 0.0
    lags: dict[str, int | None] = {}
    while time.monotonic() < deadline:
        crashed = still_running()
        if crashed:
            raise RuntimeError(f"{crashed} stopped while the pipeline was draining")
        lags = {probe.watch.group_id: probe.lag() for probe in probes}
        if held_events is not None:
            lags[REORDER_BUFFER] = held_events()
        now = time.monotonic()
        if now - last_report > 5:
            logger.info("draining", extra={"records_not_yet_processed": lags})
            last_report = now
        if all(lag == 0 for lag in lags.values()):
            quiet_since = quiet_since or now
            if now - quiet_since >= quiet_seconds:
                return lags
        else:
            quiet_since = None
        time.sleep(0.5)
    raise TimeoutError(f"pipeline did not drain in {timeout_seconds:.0f}s; lag {lags}")
