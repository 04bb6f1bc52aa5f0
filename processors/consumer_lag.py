"""Consumer lag of the processor worker, per assigned partition, as a metric.

Lag here is the partition's high watermark minus the worker's fetch position: records
the broker holds that the worker has not yet taken in. (The sink reports the same metric
from its committed offsets.) Only the topics the agents read are reported: the worker
also holds its tables' changelog partitions, which it writes and reads only to recover,
so their "lag" is no backlog.
"""

from __future__ import annotations

import logging
from typing import Any

from telemetry.metrics import observe_consumer_lag

logger = logging.getLogger(__name__)

LAG_REPORT_SECONDS = 15.0


CHANGELOG_SUFFIX = "-changelog"


async def report_consumer_lag(consumer: Any, group_id: str) -> int:
    """Observe the lag of every assigned input partition; return how many were."""
    observed = 0
    for tp in consumer.assignment():
        if tp.topic.endswith(CHANGELOG_SUFFIX):
            continue
        high = consumer.highwater(tp)
        position = await consumer.position(tp)
        if high is None or position is None:
            continue
        observe_consumer_lag(group_id, tp.topic, tp.partition, max(high - position, 0))
        observed += 1
    return observed


def add_lag_reporter(app: Any, group_id: str) -> None:
    """Report consumer lag every ``LAG_REPORT_SECONDS`` while the worker runs."""

    @app.timer(interval=LAG_REPORT_SECONDS, name="report-consumer-lag")
    async def report() -> None:
        # A metric must never take the worker down: a failed reading is skipped.
        try:
            await report_consumer_lag(app.consumer, group_id)
        except Exception as exc:  # noqa: BLE001
            logger.warning("consumer lag not observed this time: %s", exc)
