"""Health endpoints of each long-running process, and the sink's SIGTERM shutdown.

* webhook server: ``/health/ready`` is 200 with the broker up, 503 when the configured
  broker does not answer;
* processors: the Faust worker serves both paths on its web port;
* Odoo sink: both paths on ``--health-port``; ready names Kafka and Odoo; and a SIGTERM
  in the middle of a stream ends the process with status 0 after committing exactly the
  records it wrote to Odoo.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from standin_fixture import RunningStandin, free_loopback_port
from starlette.testclient import TestClient

from eventbus import AvroCodec, Topics
from eventbus.kafka_config import consumer_config, producer_config
from eventbus.topic_admin import ensure_topics
from pipeline.demo import settings_environment
from pipeline.settings import Settings
from producers.publisher import EventPublisher
from producers.webhooks import build_webhook_app
from sinks.odoo import make_client

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 90.0
STREAM_RECORDS = 1500
MODULE = "saas_pipeline"


def wait_for_status(url: str, wanted: int, timeout: float = STARTUP_SECONDS) -> dict:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url, timeout=5)
            if response.status_code == wanted:
                return response.json()
            last = response.status_code
        except httpx.TransportError as error:
            last = error
        time.sleep(0.5)
    raise AssertionError(f"{url} did not answer {wanted} in time (last: {last!r})")


def stop_with_sigterm(process: subprocess.Popen[bytes], timeout: float = 60) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise


def child_environment(settings: Settings, **extra: str) -> dict[str, str]:
    return {**settings_environment(settings), "PYTHONPATH": str(REPO_ROOT), **extra}


# -- webhook server ---------------------------------------------------------------------


def test_webhook_server_ready_only_while_kafka_answers(
    pipeline_settings: Settings,
) -> None:
    publisher = EventPublisher(pipeline_settings)
    try:
        with TestClient(build_webhook_app(pipeline_settings, publisher)) as client:
            assert client.get("/health/live").status_code == 200
            ready = client.get("/health/ready")
            assert ready.status_code == 200
            assert ready.json() == {"ready": True, "checks": {"kafka": True}}
    finally:
        publisher.close()

    # Nothing listens on this port: the same app must say it is not ready.
    unreachable = pipeline_settings.model_copy(
        update={
            "kafka": pipeline_settings.kafka.model_copy(
                update={"bootstrap_servers": f"127.0.0.1:{free_loopback_port()}"}
            )
        }
    )
    publisher = EventPublisher(unreachable)
    try:
        with TestClient(build_webhook_app(unreachable, publisher)) as client:
            assert client.get("/health/live").status_code == 200
            ready = client.get("/health/ready")
            assert ready.status_code == 503
            assert ready.json()["checks"] == {"kafka": False}
    finally:
        publisher.close(timeout=1)


# -- processors -------------------------------------------------------------------------


def test_processor_worker_serves_health_on_its_web_port(
    pipeline_settings: Settings, tmp_path: Path
) -> None:
    port = free_loopback_port()
    settings = pipeline_settings.model_copy(
        update={
            "processors": pipeline_settings.processors.model_copy(
                update={"web_port": port}
            )
        }
    )
    log = (tmp_path / "processors.log").open("ab")
    worker = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "process"],
        env=child_environment(settings),
        cwd=REPO_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        body = wait_for_status(f"http://127.0.0.1:{port}/health/ready", 200)
        assert body == {"ready": True, "checks": {"kafka": True, "started": True}}
        assert httpx.get(f"http://127.0.0.1:{port}/health/live").json() == {
            "live": True
        }
    finally:
        status = stop_with_sigterm(worker)
        log.close()
    assert status == 0, (tmp_path / "processors.log").read_text()[-3000:]


# -- Odoo sink --------------------------------------------------------------------------


@pytest.fixture
def sink_settings(pipeline_settings: Settings, standin: RunningStandin) -> Settings:
    # One partition, so "committed offset N" means "the first N records".
    settings = pipeline_settings.model_copy(
        update={
            "odoo": standin.settings("json2"),
            "kafka": pipeline_settings.kafka.model_copy(update={"partitions": 1}),
            "sink": pipeline_settings.sink.model_copy(update={"batch_max_records": 5}),
        }
    )
    ensure_topics(settings)
    return settings


def account_context(canonical_id: str) -> dict[str, Any]:
    return {
        "canonical_account_id": canonical_id,
        "revision": 1,
        "display_name": f"Account {canonical_id}",
        "domain": f"{canonical_id}.example",
        "country_code": "NO",
        "vat_number": None,
        "linked_to_crm": True,
        "flags": [],
        "crm_company_ids": [f"crm-{canonical_id}"],
        "billing_customer_ids": [],
        "product_group_ids": [],
        "helpdesk_organization_ids": [],
        "contact_emails": [],
        "billing_emails": [],
    }


def enriched_stream(count: int) -> list[dict[str, Any]]:
    """One account's profile, then ``count - 1`` distinct contacts of it."""
    context = account_context("acc-shutdown")
    occurred = datetime(2024, 5, 1, tzinfo=UTC)
    records = [
        {
            "canonical_account_id": "acc-shutdown",
            "record_kind": "account_profile",
            "record_id": "acc-shutdown",
            "version": 1,
            "event_id": "ev-profile",
            "event_type": "test",
            "source_system": "crm",
            "occurred_at": occurred,
            "account": context,
            "trace_context": {},
            "payload": None,
        }
    ]
    for number in range(1, count):
        contact = {
            "record_id": f"c-{number}",
            "name": f"Person {number}",
            "email": f"person{number}@acc-shutdown.example",
            "phone": None,
            "company_id": None,
            "created_at": occurred,
            "modified_at": occurred,
        }
        records.append(
            {
                **records[0],
                "record_kind": "contact",
                "record_id": f"c-{number}",
                "event_id": f"ev-contact-{number}",
                "payload": ("pipeline.CrmContact", contact),
            }
        )
    return records


def produce_enriched(settings: Settings, records: list[dict[str, Any]]) -> None:
    codec = AvroCodec()
    producer = Producer(producer_config(settings.kafka, "shutdown-test"))
    topic = Topics(settings.kafka.topic_prefix).enriched
    for record in records:
        producer.produce(
            topic,
            key=record["canonical_account_id"].encode(),
            value=codec.encode("EnrichedEvent", record),
        )
    assert producer.flush(60) == 0


def committed_offset(settings: Settings) -> int:
    topic = Topics(settings.kafka.topic_prefix).enriched
    probe = Consumer(consumer_config(settings.kafka, settings.sink.group_id, "probe"))
    try:
        [partition] = probe.committed([TopicPartition(topic, 0)], timeout=10)
        return max(partition.offset, 0)
    finally:
        probe.close()


def start_sink(settings: Settings, health_port: int, log: Path) -> subprocess.Popen:
    env = child_environment(
        settings,
        PIPELINE_SINK__GROUP_ID=settings.sink.group_id,
        PIPELINE_SINK__BATCH_MAX_RECORDS=str(settings.sink.batch_max_records),
        PIPELINE_ODOO__LOGIN=settings.odoo.login,
    )
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipeline.cli",
            "sink",
            "--health-port",
            str(health_port),
        ],
        env=env,
        cwd=REPO_ROOT,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )


def test_sink_health_and_sigterm_commit_exactly_what_odoo_holds(
    sink_settings: Settings, standin: RunningStandin, tmp_path: Path
) -> None:
    # 1. a stream long enough to be interrupted
    produce_enriched(sink_settings, enriched_stream(STREAM_RECORDS))

    # 2. the sink as its own process, with probes
    port = free_loopback_port()
    sink = start_sink(sink_settings, port, tmp_path / "sink.log")
    try:
        ready = wait_for_status(f"http://127.0.0.1:{port}/health/ready", 200)
        assert ready == {"ready": True, "checks": {"kafka": True, "odoo": True}}
        assert httpx.get(f"http://127.0.0.1:{port}/health/live").status_code == 200

        # 3. SIGTERM once the first batches are committed
        deadline = time.monotonic() + STARTUP_SECONDS
        while committed_offset(sink_settings) == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        status = stop_with_sigterm(sink)
    finally:
        if sink.poll() is None:
            sink.kill()
    log_tail = (tmp_path / "sink.log").read_text(errors="replace")[-3000:]
    assert status == 0, log_tail

    # 4. committed offset == records in Odoo (the profile and one partner per contact)
    committed = committed_offset(sink_settings)
    assert 0 < committed < STREAM_RECORDS, f"not stopped mid-stream: {committed}"
    with make_client(sink_settings.odoo) as client:
        written = client.search_count("ir.model.data", [("module", "=", MODULE)])
    assert written == committed, log_tail


def test_sink_reports_not_ready_while_odoo_is_down(
    sink_settings: Settings, tmp_path: Path
) -> None:
    down = sink_settings.model_copy(
        update={
            "odoo": sink_settings.odoo.model_copy(
                update={"url": f"http://127.0.0.1:{free_loopback_port()}"}
            )
        }
    )
    port = free_loopback_port()
    sink = start_sink(down, port, tmp_path / "sink-down.log")
    try:
        body = wait_for_status(f"http://127.0.0.1:{port}/health/ready", 503)
        assert body == {"ready": False, "checks": {"kafka": True, "odoo": False}}
        assert httpx.get(f"http://127.0.0.1:{port}/health/live").status_code == 200
    finally:
        assert stop_with_sigterm(sink) == 0
    assert os.path.getsize(tmp_path / "sink-down.log") > 0
