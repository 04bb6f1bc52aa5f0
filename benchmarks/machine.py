"""What the numbers were measured on: cores, memory, CPU model, Python, Kafka, load."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass

from devstack.local_kafka import kafka_version


@dataclass(frozen=True)
class Machine:
    cores: int
    memory_gib: float
    cpu_model: str
    python: str
    kafka: str
    load_average: tuple[float, float, float]

    def describe(self) -> str:
        one, five, fifteen = self.load_average
        return (
            f"{self.cores} cores ({self.cpu_model}), {self.memory_gib:.1f} GiB memory, "
            f"Python {self.python}, Apache Kafka {self.kafka} (local single-node "
            f"KRaft broker), load average at start {one:.2f} / {five:.2f} / "
            f"{fifteen:.2f}"
        )


def this_machine() -> Machine:
    return Machine(
        cores=os.cpu_count() or 0,
        memory_gib=_memory_kib() / 1024 / 1024,
        cpu_model=_cpu_model(),
        python=platform.python_version(),
        kafka=kafka_version(),
        load_average=os.getloadavg(),
    )


def _cpu_model() -> str:
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def _memory_kib() -> int:
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                return int(line.split()[1])
    return 0
