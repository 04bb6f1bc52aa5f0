"""``python -m benchmarks.sink_memory``: the sink and the stand-in on a topic already written.

The whole-pipeline run (``benchmarks.pipeline_memory``) is bounded by the processor
worker. The sink and the Odoo stand-in can be measured on their own against the enriched
topic such a run wrote (or is still writing), on the same broker: a fresh stand-in
database and a fresh consumer group read the topic from its start.

Steps: 1. start a stand-in on a fresh SQLite file and a sink in a new group; 2. sample
their resident memory and CPU time, logging progress every ``--progress-seconds``;
3. stop once the group has read at least ``--min-records`` and has had no lag for
``--quiet-seconds`` (and, with ``--upstream-group``, the processors have no lag on
``processing.deduplicated`` either: they may still be writing the topic); 4. with
``--corpus``, judge the stand-in against the corpus's ``expected.json`` (a judgement
that fails is reported with its reason: it must not cost the samples); 5. append a
section to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.__main__ import REPO_ROOT, pid_of, stage, standin
from benchmarks.machine import this_machine
from benchmarks.oracle_check import (
    Judgement,
    end_state_sentence,
    judge_or_reason,
    passed,
)
from benchmarks.rss import MemorySampler, MemoryTrace
from chaos.progress import GroupPosition, GroupProgress
from chaos.stack import STANDIN_API_KEY, Component
from devstack.local_kafka import free_port
from devstack.state_dir import fresh_state_dir
from eventbus.topics import Topics
from pipeline.settings import Settings
from telemetry import configure_logging

logger = logging.getLogger(__name__)

STANDIN_DATABASE = "bench"


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.sink_memory", description=__doc__
    )
    parser.add_argument(
        "--bootstrap", required=True, help="the broker holding the topic"
    )
    parser.add_argument("--topic-prefix", default="")
    parser.add_argument("--group", default="sink-memory")
    parser.add_argument("--min-records", type=int, default=1)
    parser.add_argument(
        "--upstream-group",
        help="the processor group still writing the topic: wait for it to drain too",
    )
    parser.add_argument("--quiet-seconds", type=float, default=60.0)
    parser.add_argument("--corpus", type=Path, help="judge against its expected.json")
    parser.add_argument("--sample-seconds", type=float, default=5.0)
    parser.add_argument("--progress-seconds", type=float, default=60.0)
    parser.add_argument("--timeout-seconds", type=float, default=6 * 3600.0)
    parser.add_argument(
        "--state-dir", type=Path, default=REPO_ROOT / ".state/sink-memory"
    )
    parser.add_argument(
        "--report", type=Path, default=REPO_ROOT / "docs" / "benchmarks.md"
    )
    return parser.parse_args(argv)


def sink_settings(arguments: argparse.Namespace, state_dir: Path) -> Settings:
    return Settings(
        kafka={
            "bootstrap_servers": arguments.bootstrap,
            "topic_prefix": arguments.topic_prefix,
        },
        odoo={
            "url": f"http://127.0.0.1:{free_port()}",
            "database": STANDIN_DATABASE,
            "api_key": STANDIN_API_KEY,
        },
        sink={"group_id": arguments.group},
        tracing={"spans_file": state_dir / "spans.jsonl"},
    )


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    configure_logging("INFO")
    state_dir = fresh_state_dir(arguments.state_dir)
    started = datetime.now(tz=UTC)
    machine = this_machine()
    settings = sink_settings(arguments, state_dir)
    topic = Topics(arguments.topic_prefix).enriched

    # 1. a fresh stand-in and a sink in a new group
    running: list[Component] = []
    try:
        running.append(standin(settings, state_dir, "odoo-standin"))
        running.append(stage(settings, state_dir, "odoo-sink", "sink"))
        odoo, sink = running
        began = time.monotonic()
        with MemorySampler(
            {"odoo sink": lambda: pid_of(sink), "odoo stand-in": lambda: pid_of(odoo)},
            interval=arguments.sample_seconds,
        ) as sampler:
            # 2.-3. drain
            upstream = (
                None
                if arguments.upstream_group is None
                else GroupProgress(
                    arguments.bootstrap,
                    arguments.upstream_group,
                    [Topics(arguments.topic_prefix).deduplicated],
                )
            )
            position = drain(
                GroupProgress(arguments.bootstrap, arguments.group, [topic]),
                upstream,
                running,
                arguments,
            )
        seconds = time.monotonic() - began
        # 4. the oracle
        judgement: Judgement = "no corpus given"
        if arguments.corpus is not None:
            expected = json.loads((arguments.corpus / "expected.json").read_text())
            judgement = judge_or_reason(settings, expected)
    finally:
        for component in reversed(running):
            component.stop()

    # 5. the report
    section = markdown(
        started, machine.describe(), topic, position, seconds, sampler.traces, judgement
    )
    with arguments.report.open("a") as report:
        report.write("\n" + section)
    print(section)
    return 0 if arguments.corpus is None or passed(judgement) else 1


def drain(
    progress: GroupProgress,
    upstream: GroupProgress | None,
    running: list[Component],
    arguments: argparse.Namespace,
) -> GroupPosition:
    """Wait until the group has read ``--min-records`` and stayed without lag (and the
    upstream group too, when given)."""
    deadline = time.monotonic() + arguments.timeout_seconds
    quiet_since: float | None = None
    last_report = 0.0
    try:
        while time.monotonic() < deadline:
            for component in running:
                if component.exit_code() is not None:
                    raise RuntimeError(f"{component.name} stopped; see {component.log}")
            position = progress.position()
            upstream_position = None if upstream is None else upstream.position()
            now = time.monotonic()
            if position is not None and now - last_report >= arguments.progress_seconds:
                logger.info(
                    "progress",
                    extra={
                        "committed": position.committed,
                        "lag": position.lag,
                        "upstream_lag": None
                        if upstream_position is None
                        else upstream_position.lag,
                    },
                )
                last_report = now
            done = (
                position is not None
                and position.lag == 0
                and position.committed >= arguments.min_records
                and (
                    upstream is None
                    or (upstream_position is not None and upstream_position.lag == 0)
                )
            )
            quiet_since = (quiet_since or now) if done else None
            if quiet_since is not None and now - quiet_since >= arguments.quiet_seconds:
                assert position is not None
                return position
            time.sleep(1.0)
    finally:
        progress.close()
        if upstream is not None:
            upstream.close()
    raise TimeoutError(f"the sink did not drain in {arguments.timeout_seconds:.0f}s")


def markdown(
    started: datetime,
    machine: str,
    topic: str,
    position: GroupPosition,
    seconds: float,
    traces: dict[str, MemoryTrace],
    judgement: Judgement,
) -> str:
    lines = [
        f"## {started:%Y-%m-%d %H:%M} UTC, the sink and the stand-in on "
        f"{position.committed:,} enriched records",
        "",
        f"Machine: {machine}. `python -m benchmarks.sink_memory`.",
        "",
        f"A fresh stand-in database and a new sink group read `{topic}` from its "
        f"start: {position.committed:,} records in {seconds:,.0f} s "
        f"({position.committed / seconds:,.1f} records/s, while the topic was "
        f"possibly still being written). {end_state_sentence(judgement)}",
        "",
        "| process | samples | peak | peak 1st half | peak 2nd half | verdict "
        "| CPU s | CPU ms/record |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, trace in traces.items():
        first, second = trace.halves_mib()
        lines.append(
            f"| {name} | {len(trace.samples)} | {trace.peak_mib:.0f} | {first:.0f} | "
            f"{second:.0f} | {trace.verdict()} | {trace.cpu_seconds:,.0f} | "
            f"{trace.cpu_seconds * 1000 / max(position.committed, 1):.2f} |"
        )
    return "\n".join([*lines, ""])


if __name__ == "__main__":
    sys.exit(main())
