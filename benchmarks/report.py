"""The dated section ``make bench`` appends to docs/benchmarks.md."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.latency import LatencySummary
from benchmarks.machine import Machine
from benchmarks.rss import MemoryTrace
from benchmarks.stage_rates import Rate

NOT_MEASURED = Rate(0, 0.0)


@dataclass
class BenchReport:
    machine: Machine
    events: int
    raw_publish: Rate = NOT_MEASURED
    adapter_publish: Rate = NOT_MEASURED
    raw_passthrough: Rate = NOT_MEASURED
    processor: Rate = NOT_MEASURED
    sink: Rate = NOT_MEASURED
    sink_batching: dict[str, Any] = field(default_factory=dict)
    offered_per_second: float = 0.0
    latency: LatencySummary | None = None
    saturation: Rate = NOT_MEASURED
    ingest_acknowledged: int = 0
    on_source_topics: int = 0
    memory: dict[str, MemoryTrace] = field(default_factory=dict)
    profiles: dict[str, Path] = field(default_factory=dict)
    started: datetime = field(default_factory=lambda: datetime.now(tz=UTC))

    def markdown(self) -> str:
        lines = [
            f"## {self.started:%Y-%m-%d %H:%M} UTC, corpus of {self.events} events",
            "",
            f"Machine: {self.machine.describe()}.",
            "",
            "| measurement | pipeline | baseline (same run, same broker) | ratio |",
            "|---|---|---|---|",
            _row(
                "publish, lines/s (adapters vs raw producer of the same Avro bytes)",
                self.adapter_publish,
                self.raw_publish,
            ),
            _row(
                "process, source records/s (Faust worker vs raw consume->produce)",
                self.processor,
                self.raw_passthrough,
            ),
            *self._sink_rows(),
            "",
            f"Business events the ingest reported acknowledged: "
            f"{self.ingest_acknowledged}; records on the source topics afterwards: "
            f"{self.on_source_topics}.",
            "",
            *self._latency_lines(),
            "",
            "Resident memory (RSS, MiB), sampled once a second:",
            "",
            "| process | samples | peak | peak 1st half | peak 2nd half | verdict |",
            "|---|---|---|---|---|---|",
            *(_memory_row(name, trace) for name, trace in self.memory.items()),
            "",
            "Profiles (pyinstrument text): "
            + ", ".join(f"{name}: `{path}`" for name, path in self.profiles.items()),
            "",
        ]
        return "\n".join(lines)

    def _sink_rows(self) -> list[str]:
        rows = [
            f"| sink draining enriched.accounts, records/s (real sink, stand-in) | "
            f"{self.sink.per_second:.1f} | - | - |"
        ]
        batched = self.sink_batching.get("batched")
        one_by_one = self.sink_batching.get("one_by_one")
        if batched and one_by_one:
            rows.append(
                "| sink write path, records/s (batched vs one record per round trip, "
                f"{self.sink_batching.get('records')} synthetic records, "
                "`benchmarks/sink_throughput.py`) | "
                f"{batched['records_per_second']:.1f} | "
                f"{one_by_one['records_per_second']:.1f} | "
                f"{batched['records_per_second'] / one_by_one['records_per_second']:.2f} |"
            )
        return rows

    def _latency_lines(self) -> list[str]:
        if self.latency is None:
            return ["End-to-end latency: not measured."]
        latency = self.latency
        return [
            f"End-to-end latency at {self.offered_per_second:.1f} events/s offered "
            f"(half the slower stage's saturated rate), from the adapter's publish "
            f"call to the end of the sink span that wrote the record: p50 "
            f"{latency.p50:.2f}s, p95 {latency.p95:.2f}s, p99 {latency.p99:.2f}s, "
            f"max {latency.max:.2f}s ({latency.matched} of {latency.published} "
            f"events led to an Odoo write). Saturation throughput end to end (a burst "
            f"of {self.saturation.records} events, publish to drained): "
            f"{self.saturation.per_second:.1f} events/s.",
        ]

    def as_json(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "machine": self.machine.describe(),
            "publish": [self.adapter_publish.per_second, self.raw_publish.per_second],
            "process": [self.processor.per_second, self.raw_passthrough.per_second],
            "sink": self.sink.per_second,
            "ingest_acknowledged": self.ingest_acknowledged,
            "on_source_topics": self.on_source_topics,
            "sink_batching": self.sink_batching,
            "offered_per_second": self.offered_per_second,
            "latency": None if self.latency is None else vars(self.latency),
            "saturation": self.saturation.per_second,
            "memory_mib": {
                name: [trace.peak_mib, *trace.halves_mib()]
                for name, trace in self.memory.items()
            },
            "profiles": {name: str(path) for name, path in self.profiles.items()},
        }


def _row(what: str, measured: Rate, baseline: Rate) -> str:
    ratio = measured.per_second / baseline.per_second if baseline.per_second else 0.0
    return (
        f"| {what} | {measured.per_second:,.0f} ({measured.records} in "
        f"{measured.seconds:.1f}s) | {baseline.per_second:,.0f} ({baseline.records} in "
        f"{baseline.seconds:.1f}s) | {ratio:.3f} |"
    )


def _memory_row(name: str, trace: MemoryTrace) -> str:
    first, second = trace.halves_mib()
    return (
        f"| {name} | {len(trace.samples)} | {trace.peak_mib:.0f} | {first:.0f} | "
        f"{second:.0f} | {trace.verdict()} |"
    )


def append_section(report_file: Path, report: BenchReport) -> None:
    if not report_file.is_file():
        report_file.write_text(
            "# Benchmarks\n\nSections are appended by `make bench`, newest last.\n\n"
        )
    with report_file.open("a") as markdown:
        markdown.write("\n" + report.markdown())
