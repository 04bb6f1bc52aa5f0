"""What the correlate stage consumes, as the unit tier feeds it without Faust.

``CorrelateStep.run`` reads a handful of a consumed message's fields; ``ConsumedRecord``
carries exactly those, so a test can hand the stage records (and ticks) by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from processors.correlate_agent import TICK_HEADER

# The stage's topic roles, by the names the stage is configured with.
CORRELATE_TOPICS = {"input": "processing.deduplicated", "enriched": "enriched.accounts"}
MICROS_PER_SECOND = 1_000_000


@dataclass
class ConsumedRecord:
    """The fields of a consumed Faust message the stage reads."""

    offset: int
    value: bytes
    timestamp: float
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    topic: str = CORRELATE_TOPICS["input"]
    partition: int = 0
    key: bytes = b"k"


def tick(offset: int, arrival: int, value: bytes = b"") -> ConsumedRecord:
    """A tick record arriving at ``arrival`` (microseconds): it moves the stage's
    clock and carries no event."""
    return ConsumedRecord(
        offset, value, arrival / MICROS_PER_SECOND, [(TICK_HEADER, b"1")]
    )
