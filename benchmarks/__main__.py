"""``python -m benchmarks``: every benchmark in one run on one local broker.

Steps: 1. describe the machine and generate the corpus; 2. start the broker;
3. publish: raw producer, then the adapters; 4. process: raw passthrough, then the Faust
worker; 5. sink: the real sink draining the enriched topic, then the sink engineer's
batched-versus-one-by-one script; 6. profiles (pyinstrument) of the sink and the worker;
7. end-to-end latency at a steady load below saturation, then saturation; 8. append the
section to docs/benchmarks.md. Resident memory of every process is sampled throughout.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.drain import drain_rate
from benchmarks.latency import (
    publish_steadily,
    settled_write_times,
    sink_span_name,
    summarise,
)
from benchmarks.machine import this_machine
from benchmarks.report import BenchReport, append_section
from benchmarks.rss import MemorySampler
from benchmarks.stage_rates import (
    Rate,
    adapter_publish,
    encode_corpus,
    raw_passthrough,
    raw_produce,
    records_on,
)
from chaos.progress import GroupProgress
from chaos.stack import STANDIN_API_KEY, Component
from devstack.local_kafka import LocalKafka, free_port
from devstack.state_dir import fresh_state_dir
from eventbus.topic_admin import ensure_topics
from eventbus.topics import Topics
from loadgen.corpus_writer import generate_corpus
from loadgen.parameters import GenerationParameters
from pipeline.demo import settings_environment, wait_for_standin
from pipeline.settings import Settings
from producers.corpus import read_corpus
from producers.outcomes import AcceptedEvent

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
PIPELINE = [sys.executable, "-m", "pipeline.cli"]
STAGE_TIMEOUT_SECONDS = 3600.0


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--sink-records", type=int, default=1000)
    parser.add_argument("--latency-seconds", type=float, default=60.0)
    parser.add_argument("--burst-events", type=int, default=1500)
    parser.add_argument("--profile-seconds", type=float, default=45.0)
    parser.add_argument("--state-dir", type=Path, default=REPO_ROOT / ".state/bench")
    parser.add_argument(
        "--report", type=Path, default=REPO_ROOT / "docs" / "benchmarks.md"
    )
    return parser.parse_args(argv)


def stage_settings(bootstrap: str, prefix: str, state_dir: Path) -> Settings:
    """Settings of one measured stage: its own topics, groups, state and Odoo db."""
    return Settings(
        kafka={"bootstrap_servers": bootstrap, "partitions": 3, "topic_prefix": prefix},
        odoo={
            "url": f"http://127.0.0.1:{free_port()}",
            "database": "bench",
            "api_key": STANDIN_API_KEY,
        },
        processors={
            "state_dir": state_dir / f"{prefix}processors",
            "app_id": f"{prefix}processors",
            "web_port": free_port(),
        },
        sink={"group_id": f"{prefix}sink"},
        tracing={"spans_file": state_dir / f"{prefix}spans.jsonl"},
    )


def standin(settings: Settings, state_dir: Path, name: str) -> Component:
    port = settings.odoo.url.rsplit(":", 1)[1]
    component = Component(
        name,
        [
            *(sys.executable, "-m", "odoo_standin"),
            *("--db", str(state_dir / f"{name}.sqlite")),
            *("--host", "127.0.0.1", "--port", port, "--database", "bench"),
            *("--login", settings.odoo.login),
        ],
        {**settings_environment(settings), "ODOO_STANDIN_API_KEY": STANDIN_API_KEY},
        state_dir / f"{name}.log",
    )
    component.start()
    wait_for_standin(settings.odoo.url, timeout=60)
    return component


def stage(settings: Settings, state_dir: Path, name: str, *command: str) -> Component:
    component = Component(
        name,
        [*PIPELINE, *command],
        settings_environment(settings),
        state_dir / f"{name}.log",
    )
    component.start()
    return component


def pid_of(component: Component) -> int | None:
    return None if component.process is None else component.process.pid


def groups(settings: Settings) -> dict[str, GroupProgress]:
    bootstrap = settings.kafka.bootstrap_servers
    topics = Topics(settings.kafka.topic_prefix)
    return {
        "sources": GroupProgress(
            bootstrap, settings.processors.app_id, topics.source_topics
        ),
        "deduplicated": GroupProgress(
            bootstrap, settings.processors.app_id, [topics.deduplicated]
        ),
        "sink": GroupProgress(bootstrap, settings.sink.group_id, [topics.enriched]),
    }


def profile(
    settings: Settings, state_dir: Path, name: str, command: str, seconds: float
) -> Path:
    """Run one stage under pyinstrument for ``seconds``, then stop it with SIGINT."""
    output = state_dir / f"profile-{name}.txt"
    component = Component(
        f"profile-{name}",
        [
            *(sys.executable, "-m", "pyinstrument", "-r", "text", "-o", str(output)),
            *("-m", "pipeline.cli", command),
        ],
        settings_environment(settings),
        state_dir / f"profile-{name}.log",
    )
    component.start()
    time.sleep(seconds)
    assert component.process is not None
    component.process.send_signal(signal.SIGINT)
    try:
        component.process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        component.kill()
    return output


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    state_dir = fresh_state_dir(arguments.state_dir)

    # 1. the machine and the corpus
    report = BenchReport(machine=this_machine(), events=arguments.events)
    corpus = state_dir / "corpus"
    generate_corpus(
        GenerationParameters(events=arguments.events, seed=arguments.seed), corpus
    )

    # 2. the broker
    broker = LocalKafka(data_dir=state_dir / "kafka")
    bootstrap = broker.start()
    running: list[Component] = []
    try:
        measure(arguments, report, corpus, state_dir, bootstrap, broker, running)
    finally:
        for component in running:
            component.stop()
        broker.stop()

    # 8. the report
    append_section(arguments.report, report)
    print(report.markdown())
    (state_dir / "report.json").write_text(json.dumps(report.as_json(), indent=2))
    return 0


def measure(
    arguments: argparse.Namespace,
    report: BenchReport,
    corpus: Path,
    state_dir: Path,
    bootstrap: str,
    broker: LocalKafka,
    running: list[Component],
) -> None:
    broker_pid = int(json.loads(broker.state_file.read_text())["pid"])

    # 3. publish
    raw_settings = stage_settings(bootstrap, "raw.", state_dir)
    report.raw_publish = raw_produce(encode_corpus(corpus, raw_settings), raw_settings)
    run = stage_settings(bootstrap, "run.", state_dir)
    with MemorySampler({"ingest (adapters)": os.getpid}) as sampler:
        report.adapter_publish, accepted = adapter_publish(corpus, run)
    report.memory.update(sampler.traces)

    # 4. process (the records on the topics, which is not always what the ingest
    # reported acknowledged: see docs/chaos.md)
    report.ingest_acknowledged = accepted
    on_topics = records_on(run, Topics(run.kafka.topic_prefix).source_topics)
    report.on_source_topics = on_topics
    report.raw_passthrough = raw_passthrough(run, on_topics)
    progress = groups(run)
    worker = stage(run, state_dir, "processors", "process")
    running.append(worker)
    with MemorySampler(
        {
            "processor worker": lambda: pid_of(worker),
            "kafka broker (JVM)": lambda: broker_pid,
        }
    ) as sampler:
        report.processor = drain_rate(
            progress["sources"],
            [progress["deduplicated"]],
            timeout=STAGE_TIMEOUT_SECONDS,
            crashed=lambda: _crashed(worker),
        )
    report.memory.update(sampler.traces)
    worker.stop()

    # 5. sink
    odoo = standin(run, state_dir, "odoo-standin")
    running.append(odoo)
    sink = stage(run, state_dir, "odoo-sink", "sink")
    running.append(sink)
    with MemorySampler(
        {"odoo sink": lambda: pid_of(sink), "odoo stand-in": lambda: pid_of(odoo)}
    ) as sampler:
        report.sink = drain_rate(
            progress["sink"],
            [],
            timeout=STAGE_TIMEOUT_SECONDS,
            crashed=lambda: _crashed(sink, odoo),
        )
    report.memory.update(sampler.traces)
    sink.stop()
    odoo.stop()
    report.sink_batching = sink_batching(arguments.sink_records)

    # 6. profiles: a fresh sink group into a fresh Odoo, a fresh worker group
    profiled = run.model_copy(
        update={
            "sink": run.sink.model_copy(update={"group_id": "run.profile-sink"}),
            "odoo": run.odoo.model_copy(
                update={"url": f"http://127.0.0.1:{free_port()}"}
            ),
            "processors": run.processors.model_copy(
                update={
                    "app_id": "run.profile-processors",
                    "state_dir": state_dir / "profile-processors",
                }
            ),
        }
    )
    odoo = standin(profiled, state_dir, "odoo-standin-profile")
    running.append(odoo)
    report.profiles["sink"] = profile(
        profiled, state_dir, "sink", "sink", arguments.profile_seconds
    )
    odoo.stop()
    report.profiles["processors"] = profile(
        profiled, state_dir, "processors", "process", arguments.profile_seconds
    )

    # 7. latency at a steady load, then saturation
    measure_latency(arguments, report, corpus, state_dir, bootstrap, running)


def measure_latency(
    arguments: argparse.Namespace,
    report: BenchReport,
    corpus: Path,
    state_dir: Path,
    bootstrap: str,
    running: list[Component],
) -> None:
    latency = stage_settings(bootstrap, "lat.", state_dir)
    ensure_topics(latency)
    odoo = standin(latency, state_dir, "odoo-standin-latency")
    worker = stage(latency, state_dir, "processors-latency", "process")
    sink = stage(latency, state_dir, "odoo-sink-latency", "sink")
    running.extend([odoo, worker, sink])
    events = [o for o in read_corpus(corpus) if isinstance(o, AcceptedEvent)]
    progress = groups(latency)

    # Warm up until a record has gone all the way, so start-up is not in the figures.
    publish_steadily(events[:20], latency, per_second=20)
    drain_rate(progress["sink"], [], timeout=STAGE_TIMEOUT_SECONDS)

    # Half the slower stage's saturated rate is "below saturation".
    rate = max(1.0, 0.5 * min(report.processor.per_second, report.sink.per_second))
    report.offered_per_second = rate
    steady = events[20 : 20 + int(rate * arguments.latency_seconds)]
    published = publish_steadily(steady, latency, per_second=rate)
    drain_rate(progress["sink"], [progress["sources"]], timeout=STAGE_TIMEOUT_SECONDS)
    written = settled_write_times(
        latency.tracing.spans_file,
        sink_span_name(Topics(latency.kafka.topic_prefix).enriched),
    )
    report.latency = summarise(published, written)

    # Saturation: a burst as fast as the adapters go, timed until Odoo has it all.
    offset = 20 + len(steady)
    burst = events[offset : offset + arguments.burst_events]
    began = time.monotonic()
    publish_steadily(burst, latency, per_second=1e9)
    drain_rate(
        progress["sink"],
        [progress["sources"], progress["deduplicated"]],
        timeout=STAGE_TIMEOUT_SECONDS,
    )
    report.saturation = Rate(len(burst), time.monotonic() - began)


def sink_batching(records: int) -> dict[str, object]:
    """The sink engineer's script: batched writes against one write per record."""
    script = REPO_ROOT / "benchmarks" / "sink_throughput.py"
    if not script.is_file():
        return {}
    result = subprocess.run(
        [sys.executable, str(script), "--records", str(records)],
        capture_output=True,
        text=True,
        timeout=STAGE_TIMEOUT_SECONDS,
        cwd=REPO_ROOT,
    )
    if result.returncode != 0:
        logger.warning("sink_throughput.py failed: %s", result.stderr[-2000:])
        return {"error": result.stderr[-500:]}
    return json.loads(result.stdout[result.stdout.index("{") :])


def _crashed(*components: Component) -> str | None:
    for component in components:
        code = component.exit_code()
        if code is not None:
            return f"{component.name} (exit code {code}, log {component.log})"
    return None


if __name__ == "__main__":
    sys.exit(main())
