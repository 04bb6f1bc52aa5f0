"""The demo job: run every stage on a corpus and check the end state.

Steps, each visible in the log:

1. start a local Kafka broker and the Odoo stand-in (fresh, under one state directory);
2. create the topics and start the processor worker and the Odoo sink as processes;
3. ingest the corpus directory (valid lines to source topics, rejected ones dead-lettered);
4. wait until every consumer group has caught up;
5. read Odoo's end state, the dead-letter topic and the duplicate notices;
6. print a summary and compare with the corpus's ``expected.json`` (if it has one);
7. stop everything this job started.

The exit status is 0 only when the end state equals ``expected.json`` exactly.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from devstack.local_kafka import LocalKafka, free_port
from eventbus.avro_codec import AvroCodec
from eventbus.topic_admin import ensure_topics
from eventbus.topics import Topics
from pipeline.demo_telemetry import (
    ingest_traced,
    metrics_environment,
    scrape_stage_metrics,
    stage_metrics_ports,
)
from pipeline.end_state_check import Difference, compare_end_state, compare_input_lines
from pipeline.idle_wait import GroupWatch, held_events_probe, wait_until_idle
from pipeline.settings import Settings
from pipeline.topic_reader import read_all

logger = logging.getLogger(__name__)

STANDIN_API_KEY = "demo-standin-key"


@dataclass
class DemoProcesses:
    """Child processes the demo started, stopped in reverse order."""

    running: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(
        self, name: str, command: list[str], env: dict[str, str], log: Path
    ) -> None:
        handle = log.open("ab")
        self.running[name] = subprocess.Popen(
            command,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        logger.info("started %s (pid %s), log %s", name, self.running[name].pid, log)

    def crashed(self) -> str | None:
        for name, process in self.running.items():
            if process.poll() is not None:
                return f"{name} (exit code {process.returncode})"
        return None

    def stop_all(self) -> None:
        for name, process in reversed(list(self.running.items())):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    logger.warning("%s ignored SIGTERM for 30s; killing it", name)
                    process.kill()
                    process.wait()


def settings_environment(settings: Settings) -> dict[str, str]:
    """The environment variables that reproduce ``settings`` in a child process."""
    env = {
        "PIPELINE_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
        "PIPELINE_KAFKA__TOPIC_PREFIX": settings.kafka.topic_prefix,
        "PIPELINE_KAFKA__PARTITIONS": str(settings.kafka.partitions),
        "PIPELINE_KAFKA__REPLICATION_FACTOR": str(settings.kafka.replication_factor),
        "PIPELINE_ODOO__URL": settings.odoo.url,
        "PIPELINE_ODOO__DATABASE": settings.odoo.database,
        "PIPELINE_ODOO__PROTOCOL": settings.odoo.protocol,
        "PIPELINE_ODOO__API_KEY": settings.odoo.api_key.get_secret_value(),
        "PIPELINE_PROCESSORS__STATE_DIR": str(settings.processors.state_dir),
        "PIPELINE_PROCESSORS__APP_ID": settings.processors.app_id,
        "PIPELINE_PROCESSORS__WEB_PORT": str(settings.processors.web_port),
        "PIPELINE_SINK__GROUP_ID": settings.sink.group_id,
        "PIPELINE_TRACING__SPANS_FILE": str(settings.tracing.spans_file),
    }
    return {**os.environ, **env}


def wait_for_standin(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if (
                httpx.get(f"{url}/web/webclient/version_info", timeout=2).status_code
                < 500
            ):
                return
        except httpx.TransportError:
            pass
        try:
            response = httpx.post(
                f"{url}/jsonrpc",
                json={
                    "jsonrpc": "2.0",
                    "method": "call",
                    "id": 1,
                    "params": {"service": "common", "method": "version", "args": []},
                },
                timeout=2,
            )
            if response.status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise RuntimeError(
        f"the Odoo stand-in did not answer at {url} within {timeout:.0f}s"
    )


def collect_rejections_and_duplicates(
    settings: Settings,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rejected lines from the ingest dead-letter topic, duplicates from the notices."""
    codec = AvroCodec(settings.kafka.schema_registry_url)
    topics = Topics(settings.kafka.topic_prefix)
    rejected = [
        {"file": r["source_name"], "line": r["position"], "reason": r["reason"]}
        for r in (
            codec.decode("RejectedInput", m.value())
            for m in read_all(settings.kafka, topics.ingest_deadletter)
        )
    ]
    duplicates = []
    for message in read_all(settings.kafka, topics.notices):
        notice = codec.decode("ProcessingNotice", message.value())
        if notice["kind"] != "duplicate" or notice["source_system"] == "crm":
            continue
        delivery, first = notice.get("delivery"), notice.get("first_delivery")
        duplicates.append(
            {
                "file": delivery["source_name"] if delivery else None,
                "line": delivery["position"] if delivery else None,
                "event_id": notice["event_id"],
                "first_line": first["position"] if first else None,
            }
        )
    return rejected, duplicates


def print_summary(
    ingest_report: Any,
    rejected: list,
    duplicates: list,
    accounts: list,
    records: Counter,
) -> None:
    print("\n=== pipeline summary ===")
    print(f"events in (accepted lines):  {ingest_report.accepted}")
    print(f"rejected (dead-lettered):    {len(rejected)}")
    print(f"duplicates dropped:          {len(duplicates)}")
    print(f"accounts in Odoo:            {len(accounts)}")
    print(
        "Odoo records written:        "
        + ", ".join(f"{model}={count}" for model, count in sorted(records.items()))
    )


def count_odoo_records(client: Any) -> Counter:
    counts: Counter = Counter()
    for model in (
        "res.partner",
        "sale.order",
        "account.move",
        "helpdesk.ticket",
        "x_product_usage",
    ):
        counts[model] = client.search_count(model, [])
    return counts


def run_demo(
    corpus_dir: Path,
    state_dir: Path,
    keep_running: bool = False,
    *,
    bootstrap: str | None = None,
    replication_factor: int = 1,
) -> int:
    """Run the whole pipeline on ``corpus_dir``; return the process exit status.

    ``bootstrap`` names an already running cluster to use instead of starting a local
    broker (it is then neither started nor stopped here); ``replication_factor`` is
    what the topics get on it.
    """
    from sinks.odoo import make_client
    from sinks.odoo_state import read_account_views

    corpus_dir = corpus_dir.resolve()
    expected = load_expected(corpus_dir)
    if state_dir.exists():
        shutil.rmtree(state_dir)
    state_dir.mkdir(parents=True)
    broker = None if bootstrap else LocalKafka(data_dir=state_dir / "kafka")
    processes = DemoProcesses()
    settings: Settings | None = None
    started = time.monotonic()
    try:
        # 1. infrastructure
        logger.info("step 1/7: starting Kafka and the Odoo stand-in")
        if broker is not None:
            bootstrap = broker.start()
        standin_port = free_port()
        settings = Settings(
            kafka={
                "bootstrap_servers": bootstrap,
                "partitions": 3,
                "replication_factor": replication_factor,
            },
            odoo={
                "url": f"http://127.0.0.1:{standin_port}",
                "database": "demo",
                "api_key": STANDIN_API_KEY,
            },
            processors={"state_dir": state_dir / "processors", "web_port": free_port()},
            tracing={"spans_file": state_dir / "spans.jsonl"},
        )
        metrics_ports = stage_metrics_ports()
        env = {**settings_environment(settings), **metrics_environment(metrics_ports)}
        processes.start(
            "odoo-standin",
            [
                sys.executable,
                "-m",
                "odoo_standin",
                "--db",
                str(state_dir / "odoo.sqlite"),
                "--host",
                "127.0.0.1",
                "--port",
                str(standin_port),
                "--database",
                "demo",
                "--login",
                settings.odoo.login,
            ],
            {**env, "ODOO_STANDIN_API_KEY": STANDIN_API_KEY},
            state_dir / "odoo-standin.log",
        )
        wait_for_standin(settings.odoo.url)

        # 2. topics and long-running stages
        logger.info("step 2/7: creating topics, starting processors and sink")
        ensure_topics(settings)
        cli = [sys.executable, "-m", "pipeline.cli"]
        processes.start(
            "processors", [*cli, "process"], env, state_dir / "processors.log"
        )
        processes.start("odoo-sink", [*cli, "sink"], env, state_dir / "sink.log")

        # 3. ingest
        logger.info("step 3/7: ingesting %s", corpus_dir)
        ingest_report = ingest_traced(corpus_dir, settings)

        # 4. drain
        logger.info("step 4/7: waiting for processors and sink to catch up")
        topics = Topics(settings.kafka.topic_prefix)
        wait_until_idle(
            bootstrap,
            [
                # Every accepted line is one record on a source topic, so the
                # processors are not done before they committed at least that many.
                GroupWatch(
                    settings.processors.app_id,
                    [*topics.source_topics, topics.deduplicated],
                    min_committed=ingest_report.accepted,
                ),
                GroupWatch(
                    settings.sink.group_id,
                    [topics.enriched],
                    min_committed=1 if ingest_report.accepted else 0,
                ),
            ],
            still_running=processes.crashed,
            held_events=held_events_probe(settings.processors.web_port),
        )

        # 5. read the end state
        logger.info("step 5/7: reading the end state from Odoo and Kafka")
        with make_client(settings.odoo) as client:
            accounts = read_account_views(client)
            records = count_odoo_records(client)
        rejected, duplicates = collect_rejections_and_duplicates(settings)
        scrape_stage_metrics(metrics_ports, state_dir / "metrics")

        # 6. summary and comparison
        logger.info("step 6/7: comparing the end state with the corpus's expected.json")
        print_summary(ingest_report, rejected, duplicates, accounts, records)
        print(f"wall time: {time.monotonic() - started:.1f}s")
        return report_comparison(corpus_dir, expected, accounts, rejected, duplicates)
    finally:
        # 7. stop what we started
        if keep_running:
            stack_file = write_stack_file(state_dir, settings, processes)
            logger.info(
                "leaving the stack running: `set -a; . %s; set +a` points the "
                "pipeline commands at it; stop it with `kill <pids in that file>` "
                "and `pipeline kafka stop --data-dir %s`",
                stack_file,
                state_dir / "kafka",
            )
        else:
            logger.info("step 7/7: stopping processes and Kafka")
            processes.stop_all()
            if broker is not None:
                broker.stop()


def write_stack_file(
    state_dir: Path, settings: Settings | None, processes: DemoProcesses
) -> Path:
    """``stack.env`` under ``state_dir``: the settings of the running stack as shell
    variables, and the pids of its processes. Readable by the owner only: it holds the
    stand-in's API key."""
    stack_file = state_dir / "stack.env"
    lines = [f"# pids: {' '.join(str(p.pid) for p in processes.running.values())}"]
    if settings is not None:
        every = settings_environment(settings)
        lines += [
            f"{name}={shlex.quote(value)}"
            for name, value in every.items()
            if name.startswith("PIPELINE_") and os.environ.get(name) != value
        ]
    stack_file.touch(mode=0o600)
    stack_file.write_text("\n".join(lines) + "\n")
    return stack_file


class CorpusError(Exception):
    """The corpus directory cannot be used as given."""


def load_expected(corpus_dir: Path) -> dict[str, Any] | None:
    """The corpus's expected.json, checked before anything starts (None when absent)."""
    expected_file = corpus_dir / "expected.json"
    if not expected_file.is_file():
        return None
    try:
        expected = json.loads(expected_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CorpusError(f"{expected_file} is not valid JSON: {exc}") from exc
    if not isinstance(expected, dict) or not isinstance(expected.get("accounts"), list):
        raise CorpusError(f"{expected_file} has no 'accounts' list")
    return expected


def report_comparison(
    corpus_dir: Path,
    expected: dict[str, Any] | None,
    accounts: list,
    rejected: list,
    duplicates: list,
) -> int:
    expected_file = corpus_dir / "expected.json"
    if expected is None:
        print("no expected.json in the corpus: nothing to compare")
        return 0
    differences: list[Difference] = [
        *compare_input_lines(corpus_dir, expected),
        *compare_end_state(expected, accounts, rejected, duplicates),
    ]
    if not differences:
        print(f"end state matches {expected_file} exactly")
        return 0
    print(f"\n{len(differences)} difference(s) from {expected_file}:")
    for difference in differences:
        print(f"  - {difference}")
    return 1
