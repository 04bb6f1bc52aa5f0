"""``python -m benchmarks.pipeline_memory``: every process of the pipeline on one corpus.

The full benchmark (``python -m benchmarks``) measures each stage on its own; this one
runs them together the way they run in production, for as long as the corpus takes, and
answers two questions at the end:

* does any process's resident memory grow with the number of events (the peak of the
  run's second half against its first half), and what does each process cost in CPU
  per accepted event;
* is the Odoo end state still the oracle's (``expected.json``), with nothing lost and
  nothing duplicated, at this size.

Steps: 1. generate the corpus (or take ``--corpus``); 2. start the broker, the Odoo
stand-in, the processor worker and the sink (the fault suite's stack, without faults);
3. publish the corpus with ``pipeline ingest`` as a separate process; 4. wait until every
consumer group has drained and the reorder buffer is empty, logging progress once a
minute; 5. judge Odoo against the oracle; 6. append a section to docs/benchmarks.md.
Memory and CPU time of every process are sampled every ``--sample-seconds`` throughout.
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

import httpx

from benchmarks.__main__ import REPO_ROOT, pid_of
from benchmarks.machine import Machine, this_machine
from benchmarks.oracle_check import (
    Judgement,
    end_state_sentence,
    judge_or_reason,
    passed,
)
from benchmarks.rss import MemorySampler, MemoryTrace
from chaos.progress import GroupProgress
from chaos.stack import PIPELINE_COMMAND, ChaosStack
from devstack.state_dir import fresh_state_dir
from eventbus.topics import Topics
from loadgen.corpus_writer import generate_corpus
from loadgen.parameters import GenerationParameters
from pipeline.demo import settings_environment
from pipeline.idle_wait import GroupWatch, held_events_probe, wait_until_idle
from processors.memory_view import MEMORY_PATH
from telemetry import configure_logging

logger = logging.getLogger(__name__)

RUN_TIMEOUT_SECONDS = 8 * 3600.0
MIB = 1024 * 1024


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.pipeline_memory", description=__doc__
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--corpus", type=Path, help="use this corpus instead of generating one"
    )
    parser.add_argument("--sample-seconds", type=float, default=5.0)
    parser.add_argument(
        "--progress-seconds",
        type=float,
        default=60.0,
        help="how often to log progress and read the worker's /memory/ view",
    )
    parser.add_argument(
        "--state-dir", type=Path, default=REPO_ROOT / ".state/pipeline-memory"
    )
    parser.add_argument(
        "--report", type=Path, default=REPO_ROOT / "docs" / "benchmarks.md"
    )
    return parser.parse_args(argv)


@dataclass(frozen=True)
class HeapReading:
    """One reading of the worker's ``/memory/`` view."""

    seconds: float
    allocated_blocks: int
    objects: int
    tables: dict[str, dict[str, int]]


@dataclass(frozen=True)
class PipelineRun:
    started: datetime
    machine: Machine
    events: int
    ingest_counts: dict[str, object]
    wall_seconds: float
    traces: dict[str, MemoryTrace]
    judgement: Judgement
    worker_heap: list[HeapReading]

    @property
    def accepted(self) -> int:
        accepted = self.ingest_counts["accepted"]
        assert isinstance(accepted, dict)
        return sum(int(count) for count in accepted.values())

    def markdown(self, sample_seconds: float) -> str:
        lines = [
            f"## {self.started:%Y-%m-%d %H:%M} UTC, the whole pipeline at "
            f"{self.events:,} events",
            "",
            f"Machine: {self.machine.describe()}. `python -m "
            f"benchmarks.pipeline_memory --events {self.events}`.",
            "",
            f"All processes ran together (broker, stand-in, worker, sink, then the "
            f"adapters publishing the corpus). {self.accepted:,} events accepted; "
            f"drained end to end in {self.wall_seconds:,.0f} s "
            f"({self.accepted / self.wall_seconds:,.1f} events/s). "
            + end_state_sentence(self.judgement),
            "",
            f"Resident memory (RSS, MiB) sampled every {sample_seconds:g} s, and CPU "
            "time per accepted event:",
            "",
            "| process | samples | peak | peak 1st half | peak 2nd half | verdict "
            "| CPU s | CPU ms/event |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name, trace in self.traces.items():
            first, second = trace.halves_mib()
            lines.append(
                f"| {name} | {len(trace.samples)} | {trace.peak_mib:.0f} | "
                f"{first:.0f} | {second:.0f} | {trace.verdict()} | "
                f"{trace.cpu_seconds:,.0f} | "
                f"{trace.cpu_seconds * 1000 / max(self.accepted, 1):.2f} |"
            )
        return "\n".join([*lines, *self._heap_lines(), ""])

    def _heap_lines(self) -> list[str]:
        """The worker's Python heap over the run, and its RocksDB memory at the end."""
        if not self.worker_heap:
            return []
        first, last = self.worker_heap[0], self.worker_heap[-1]
        blocks = [reading.allocated_blocks for reading in self.worker_heap]
        objects = [reading.objects for reading in self.worker_heap]
        tables = "; ".join(
            f"`{name}` "
            + ", ".join(f"{kind} {size / MIB:.1f}" for kind, size in kinds.items())
            for name, kinds in last.tables.items()
        )
        return [
            "",
            f"The worker's Python heap (its `/memory/` view, {len(self.worker_heap)} "
            f"readings from {first.seconds:,.0f} s to {last.seconds:,.0f} s): "
            f"allocated blocks {first.allocated_blocks:,} first, "
            f"{last.allocated_blocks:,} last, {max(blocks):,} at most; live objects "
            f"{first.objects:,} first, {last.objects:,} last, {max(objects):,} at "
            f"most. RocksDB at the last reading (MiB): {tables or 'none'}.",
        ]


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    configure_logging("INFO")
    state_dir = fresh_state_dir(arguments.state_dir)
    started = datetime.now(tz=UTC)
    machine = this_machine()

    # 1. the corpus
    corpus = arguments.corpus
    if corpus is None:
        corpus = state_dir / "corpus"
        logger.info("generating %d events", arguments.events)
        generate_corpus(
            GenerationParameters(events=arguments.events, seed=arguments.seed), corpus
        )
    expected = json.loads((corpus / "expected.json").read_text())

    # 2. the stack
    stack = ChaosStack(state_dir / "stack")
    try:
        stack.start()
        measured = measure(stack, corpus.resolve(), expected, arguments)
    finally:
        stack.stop()
    run = PipelineRun(started, machine, arguments.events, *measured)

    # 6. the report
    section = run.markdown(arguments.sample_seconds)
    with arguments.report.open("a") as report:
        report.write("\n" + section)
    print(section)
    return 0 if passed(run.judgement) else 1


def measure(
    stack: ChaosStack,
    corpus: Path,
    expected: dict[str, object],
    arguments: argparse.Namespace,
) -> tuple[
    dict[str, object],
    float,
    dict[str, MemoryTrace],
    Judgement,
    list[HeapReading],
]:
    """Steps 3 to 5 on a started stack: ingest counts, wall seconds, traces, verdict,
    and the worker's heap readings."""
    settings = stack.settings
    topics = Topics(settings.kafka.topic_prefix)
    processor_topics = [*topics.source_topics, topics.deduplicated]
    ingest: subprocess.Popen[str] | None = None
    processes = {
        "adapters (pipeline ingest)": lambda: None if ingest is None else ingest.pid,
        "processor worker": lambda: pid_of(stack.processor),
        "odoo sink": lambda: pid_of(stack.sink),
        "odoo stand-in": lambda: pid_of(stack.standin),
        "kafka broker (JVM)": stack.broker_pid,
    }
    began = time.monotonic()
    with MemorySampler(processes, interval=arguments.sample_seconds) as sampler:
        # 3. publish
        ingest = subprocess.Popen(
            [*PIPELINE_COMMAND, "ingest", "--corpus", str(corpus)],
            env=settings_environment(settings),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        progress = Progress(stack, sampler, began, arguments.progress_seconds)
        ingest_output = wait_for_ingest(ingest, stack, progress)

        # 4. drain
        wait_until_idle(
            settings.kafka.bootstrap_servers,
            [
                GroupWatch(settings.processors.app_id, processor_topics),
                GroupWatch(settings.sink.group_id, [topics.enriched]),
            ],
            quiet_seconds=8.0,
            timeout_seconds=RUN_TIMEOUT_SECONDS,
            still_running=progress.log_and_check,
            held_events=held_events_probe(settings.processors.web_port),
        )
        wall_seconds = time.monotonic() - began
        progress.close()

    # 5. the oracle's verdict
    judgement = judge_or_reason(settings, expected)
    counts = json.loads(ingest_output[ingest_output.index("{") :])
    return counts, wall_seconds, sampler.traces, judgement, progress.worker_heap


def wait_for_ingest(
    ingest: subprocess.Popen[str], stack: ChaosStack, progress: Progress
) -> str:
    """Wait for the adapters to publish the whole corpus; return what they printed."""
    deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
    while ingest.poll() is None:
        if time.monotonic() > deadline:
            ingest.kill()
            raise TimeoutError("the adapters did not publish the corpus in time")
        crashed = progress.log_and_check()
        if crashed:
            ingest.kill()
            raise RuntimeError(f"{crashed} stopped while the corpus was published")
        time.sleep(1.0)
    assert ingest.stdout is not None
    output = ingest.stdout.read()
    if ingest.returncode != 0:
        raise RuntimeError(f"pipeline ingest exited with {ingest.returncode}")
    logger.info("the adapters published the corpus")
    return output


class Progress:
    """Every ``every_seconds``: a log line with what each stage has committed and each
    process's RSS, and a reading of the worker's ``/memory/`` view."""

    def __init__(
        self,
        stack: ChaosStack,
        sampler: MemorySampler,
        began: float,
        every_seconds: float,
    ) -> None:
        settings = stack.settings
        bootstrap = settings.kafka.bootstrap_servers
        topics = Topics(settings.kafka.topic_prefix)
        self._groups = {
            "deduplicate": GroupProgress(
                bootstrap, settings.processors.app_id, topics.source_topics
            ),
            "correlate": GroupProgress(
                bootstrap, settings.processors.app_id, [topics.deduplicated]
            ),
            "sink": GroupProgress(bootstrap, settings.sink.group_id, [topics.enriched]),
        }
        self._memory_url = (
            f"http://127.0.0.1:{settings.processors.web_port}{MEMORY_PATH}"
        )
        self._stack = stack
        self._sampler = sampler
        self._began = began
        self._every_seconds = every_seconds
        self._last = time.monotonic()
        self.worker_heap: list[HeapReading] = []

    def log_and_check(self) -> str | None:
        """Log progress when it is due; return a crashed component's name."""
        self._log_if_due()
        return self._stack.crashed_component()

    def _log_if_due(self) -> None:
        if time.monotonic() - self._last < self._every_seconds:
            return
        self._last = time.monotonic()
        positions = {name: group.position() for name, group in self._groups.items()}
        heap = self._read_worker_heap()
        logger.info(
            "progress",
            extra={
                "committed": {
                    name: None if position is None else position.committed
                    for name, position in positions.items()
                },
                "lag": {
                    name: None if position is None else position.lag
                    for name, position in positions.items()
                },
                "rss_mib": {
                    name: round(trace.samples[-1][1] / 1024)
                    for name, trace in self._sampler.traces.items()
                    if trace.samples
                },
                "worker_python_objects": None if heap is None else heap.objects,
            },
        )

    def _read_worker_heap(self) -> HeapReading | None:
        try:
            report = httpx.get(self._memory_url, timeout=30).json()
        except (httpx.HTTPError, ValueError) as exc:
            logger.warning("worker memory view not read this time: %s", exc)
            return None
        reading = HeapReading(
            seconds=time.monotonic() - self._began,
            allocated_blocks=int(report["python_allocated_blocks"]),
            objects=int(report["python_objects"]),
            tables=report["tables"],
        )
        self.worker_heap.append(reading)
        return reading

    def close(self) -> None:
        for group in self._groups.values():
            group.close()


if __name__ == "__main__":
    sys.exit(main())
