"""Resident memory (and CPU time) of processes, sampled once a second while a stage runs.

Whether state stays bounded is read from the samples: the peak of the run's second half
against the peak of its first half. A process whose memory grows with the number of
records it has seen shows a second half well above the first.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from telemetry.process_memory import resident_kib

MIN_SAMPLES = 10


@dataclass
class MemoryTrace:
    samples: list[tuple[float, int]] = field(default_factory=list)
    # CPU seconds (user + system) last read per pid; a restarted process adds a pid.
    cpu_by_pid: dict[int, float] = field(default_factory=dict)

    @property
    def cpu_seconds(self) -> float:
        return sum(self.cpu_by_pid.values())

    @property
    def peak_mib(self) -> float:
        return max((kib for _, kib in self.samples), default=0) / 1024

    def halves_mib(self) -> tuple[float, float]:
        """Peak RSS of the first and of the second half of the samples."""
        middle = len(self.samples) // 2
        first = max((kib for _, kib in self.samples[:middle]), default=0)
        second = max((kib for _, kib in self.samples[middle:]), default=0)
        return first / 1024, second / 1024

    def verdict(self) -> str:
        """``flat`` unless the second half peaked more than 10% above the first
        (allocator noise and caches warming up are not growth); ``too short`` when
        fewer than ``MIN_SAMPLES`` samples were taken, as halves mean nothing then."""
        if len(self.samples) < MIN_SAMPLES:
            return "too short"
        first, second = self.halves_mib()
        return "flat" if second <= first * 1.10 else "growing"


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time of ``pid`` so far, from /proc/<pid>/stat."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            # The command name (field 2) may hold spaces; fields after it are plain.
            fields = stat.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


class MemorySampler:
    """Samples the RSS of named processes (their pids may change on restart)."""

    def __init__(
        self, pids: dict[str, Callable[[], int | None]], interval: float = 1.0
    ) -> None:
        self._pids = pids
        self._interval = interval
        self.traces: dict[str, MemoryTrace] = {name: MemoryTrace() for name in pids}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss", daemon=True)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        began = time.monotonic()
        while not self._stop.is_set():
            for name, pid_of in self._pids.items():
                pid = pid_of()
                kib = None if pid is None else resident_kib(pid)
                if kib is not None:
                    self.traces[name].samples.append((time.monotonic() - began, kib))
                cpu = None if pid is None else cpu_seconds(pid)
                if pid is not None and cpu is not None:
                    self.traces[name].cpu_by_pid[pid] = cpu
            self._stop.wait(self._interval)
