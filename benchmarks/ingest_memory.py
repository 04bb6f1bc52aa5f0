"""``python -m benchmarks.ingest_memory``: the load generator and the adapters at scale.

The full benchmark (``python -m benchmarks``) runs every stage on one corpus; its size is
bounded by the slowest stage, the processor worker. The two stages in front of it are
cheap enough to be measured at a million events on their own:

1. the load generator writes the corpus as a separate process (time, and resident
   memory sampled once a second: it streams to disk, so memory must stay flat);
2. a local broker starts, and ``pipeline ingest`` publishes the whole corpus as a
   separate process, its resident memory sampled the same way.

A dated section with both is appended to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.__main__ import REPO_ROOT, stage_settings
from benchmarks.machine import Machine, this_machine
from benchmarks.rss import MemorySampler, MemoryTrace
from devstack.local_kafka import LocalKafka
from devstack.state_dir import fresh_state_dir
from eventbus.topic_admin import ensure_topics
from pipeline.demo import settings_environment

logger = logging.getLogger(__name__)

RUN_TIMEOUT_SECONDS = 4 * 3600.0


@dataclass
class MeasuredProcess:
    name: str
    seconds: float
    trace: MemoryTrace
    output: str

    def memory_row(self) -> str:
        first, second = self.trace.halves_mib()
        return (
            f"| {self.name} | {self.seconds:,.0f} | {len(self.trace.samples)} | "
            f"{self.trace.peak_mib:.0f} | {first:.0f} | {second:.0f} | "
            f"{self.trace.verdict()} |"
        )


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.ingest_memory", description=__doc__
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--state-dir", type=Path, default=REPO_ROOT / ".state/ingest-memory"
    )
    parser.add_argument(
        "--report", type=Path, default=REPO_ROOT / "docs" / "benchmarks.md"
    )
    return parser.parse_args(argv)


def run_measured(
    name: str, command: list[str], env: dict[str, str] | None
) -> MeasuredProcess:
    """Run ``command`` to its end, sampling its resident memory once a second."""
    began = time.monotonic()
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    with MemorySampler({name: lambda: process.pid}) as sampler:
        output, _ = process.communicate(timeout=RUN_TIMEOUT_SECONDS)
    if process.returncode != 0:
        raise RuntimeError(f"{name} exited with {process.returncode}")
    return MeasuredProcess(
        name, time.monotonic() - began, sampler.traces[name], output or ""
    )


def markdown(
    started: datetime,
    machine: Machine,
    events: int,
    generator: MeasuredProcess,
    ingest: MeasuredProcess,
) -> str:
    counts = json.loads(ingest.output[ingest.output.index("{") :])
    lines_read = int(counts["lines_read"])
    accepted = sum(counts["accepted"].values())
    rejected = sum(counts["rejected"].values())
    return "\n".join(
        [
            f"## {started:%Y-%m-%d %H:%M} UTC, generator and adapters at {events:,} "
            "events",
            "",
            f"Machine: {machine.describe()}. `python -m benchmarks.ingest_memory "
            f"--events {events}`.",
            "",
            f"The load generator wrote the corpus in {generator.seconds:,.0f} s. The "
            f"adapters (`pipeline ingest`) published it in {ingest.seconds:,.0f} s "
            f"({lines_read / ingest.seconds:,.0f} lines/s, start-up included): "
            f"{lines_read:,} lines read, {accepted:,} events accepted and "
            f"acknowledged, {rejected:,} rejected to the dead-letter topic.",
            "",
            "Resident memory (RSS, MiB), sampled once a second:",
            "",
            "| process | seconds | samples | peak | peak 1st half | peak 2nd half "
            "| verdict |",
            "|---|---|---|---|---|---|---|",
            generator.memory_row(),
            ingest.memory_row(),
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    state_dir = fresh_state_dir(arguments.state_dir)
    started = datetime.now(tz=UTC)
    machine = this_machine()
    corpus = state_dir / "corpus"

    logger.info("generating %d events", arguments.events)
    generator = run_measured(
        "load generator",
        [
            *(sys.executable, "-m", "loadgen", "generate", "--out", str(corpus)),
            *("--events", str(arguments.events), "--seed", str(arguments.seed)),
        ],
        None,
    )
    broker = LocalKafka(data_dir=state_dir / "kafka")
    bootstrap = broker.start()
    try:
        settings = stage_settings(bootstrap, "", state_dir)
        ensure_topics(settings)
        logger.info("publishing the corpus")
        ingest = run_measured(
            "adapters (pipeline ingest)",
            [sys.executable, "-m", "pipeline.cli", "ingest", "--corpus", str(corpus)],
            settings_environment(settings),
        )
    finally:
        broker.stop()

    section = markdown(started, machine, arguments.events, generator, ingest)
    with arguments.report.open("a") as report:
        report.write("\n" + section)
    print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
