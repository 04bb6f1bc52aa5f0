"""The worker's lag per assigned partition reaches the consumer-lag metric."""

from __future__ import annotations

import asyncio
from collections import namedtuple

from processors.consumer_lag import report_consumer_lag
from telemetry.metrics import consumer_lag

TP = namedtuple("TP", "topic partition")


class FakeFaustConsumer:
    def __init__(self) -> None:
        self.highwaters = {
            TP("source.billing", 0): 120,
            TP("source.billing", 1): 40,
            TP("source.crm", 0): None,
            TP("saas-odoo-pipeline-dedup-ledger-changelog", 0): 9,
        }
        self.positions = {
            TP("source.billing", 0): 100,
            TP("source.billing", 1): 40,
            TP("source.crm", 0): 3,
            TP("saas-odoo-pipeline-dedup-ledger-changelog", 0): 0,
        }

    def assignment(self) -> set:
        return set(self.highwaters)

    def highwater(self, tp: TP) -> int | None:
        return self.highwaters[tp]

    async def position(self, tp: TP) -> int | None:
        return self.positions[tp]


def _reading(topic: str, partition: int) -> float | None:
    for observation in consumer_lag.observations(None):
        labels = observation.attributes
        if (
            labels.get("group") == "lag-test"
            and labels.get("topic") == topic
            and (labels.get("partition") == str(partition))
        ):
            return observation.value
    return None


def test_lag_is_high_watermark_minus_position_per_partition() -> None:
    observed = asyncio.run(report_consumer_lag(FakeFaustConsumer(), "lag-test"))

    assert observed == 2  # the partition without a known high watermark is skipped
    assert _reading("source.billing", 0) == 20
    assert _reading("source.billing", 1) == 0
    assert _reading("source.crm", 0) is None
    # A table's changelog is not input: no lag is reported for it.
    assert _reading("saas-odoo-pipeline-dedup-ledger-changelog", 0) is None
