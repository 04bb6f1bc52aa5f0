"""A process's memory is called growing only when its second half peaks clearly higher."""

from __future__ import annotations

from benchmarks.rss import MemoryTrace


def _trace(kib: list[int]) -> MemoryTrace:
    return MemoryTrace(
        samples=[(float(second), value) for second, value in enumerate(kib)]
    )


def test_a_plateau_reached_in_the_first_half_is_flat() -> None:
    trace = _trace([50_000, 90_000, 100_000, 100_000, 100_000] + [104_000] * 5)
    assert trace.halves_mib() == (100_000 / 1024, 104_000 / 1024)
    assert trace.verdict() == "flat"


def test_memory_still_rising_in_the_second_half_is_growing() -> None:
    trace = _trace([50_000 + 5_000 * step for step in range(12)])
    assert trace.verdict() == "growing"


def test_a_handful_of_samples_gives_no_verdict() -> None:
    assert _trace([50_000, 90_000]).verdict() == "too short"


def test_cpu_time_adds_up_over_restarts() -> None:
    trace = MemoryTrace(cpu_by_pid={101: 2.5, 202: 1.25})
    assert trace.cpu_seconds == 3.75
