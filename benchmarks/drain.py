"""The rate at which a running consumer group works through a backlog.

Measured from the group's committed offsets: the clock starts at its first commit (so
process start-up and group joining are not counted) and stops when it has no lag left.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from benchmarks.stage_rates import Rate
from chaos.progress import GroupProgress


def drain_rate(
    counted: GroupProgress,
    also_empty: list[GroupProgress],
    *,
    timeout: float,
    crashed: Callable[[], str | None] = lambda: None,
) -> Rate:
    """Records/s committed on ``counted`` until it and ``also_empty`` have no lag."""
    deadline = time.monotonic() + timeout
    first: tuple[float, int] | None = None
    while time.monotonic() < deadline:
        failure = crashed()
        if failure:
            raise RuntimeError(f"{failure} stopped during the measurement")
        position = counted.position()
        now = time.monotonic()
        if position is None:
            time.sleep(0.2)
            continue
        if first is None and position.committed > 0:
            first = (now, position.committed)
        if first is not None and position.lag == 0 and _all_drained(also_empty):
            return Rate(position.committed - first[1], now - first[0])
        time.sleep(0.2)
    raise TimeoutError(f"{counted.group_id} did not drain within {timeout:.0f}s")


def _all_drained(groups: list[GroupProgress]) -> bool:
    for group in groups:
        position = group.position()
        if position is None or position.lag > 0:
            return False
    return True
