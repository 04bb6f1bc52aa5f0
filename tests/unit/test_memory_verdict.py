"""A process's memory is called growing only when its second half peaks clearly higher."""

from __future__ import annotations

from benchmarks.rss import MemoryTrace


def _trace(kib: list[int]) -> MemoryTrace:
    return MemoryTrace(
        samples=[(float(second), value) for second, value in enumerate(kib)]
    )


def test_a_plateau_reached_in_the_first_half_is_flat() -> None:
    trace = _trace([50_000, 90_000, 100_000, 100_000, 104_000, 103_000])
    assert trace.halves_mib() == (100_000 / 1024, 104_000 / 1024)
    assert trace.verdict() == "flat"


def test_memory_still_rising_in_the_second_half_is_growing() -> None:
    trace = _trace([50_000, 60_000, 70_000, 80_000, 90_000, 100_000])
    assert trace.verdict() == "growing"
