"""Losing a broker mid-run loses and duplicates nothing.

A three-node KRaft cluster on loopback; every pipeline topic has three replicas and
``min.insync.replicas`` 2. The whole pipeline runs on the corpus (the demo job, pointed
at the cluster); once the processors have published their first enriched records, the
node leading the enriched topic's first partition is SIGKILLed, and restarted a while
later. Odoo's end state must still equal the corpus's ``expected.json`` and hold each
external id on exactly one record.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient
from standin_fixture import StandinProcess

from devstack.local_cluster import LocalCluster
from eventbus import topic_plan
from eventbus.topic_plan import LiveTopic
from eventbus.topics import Topics
from pipeline.demo import STANDIN_API_KEY, run_demo
from pipeline.settings import Settings
from sinks.odoo import make_client

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1200)]

RESTART_AFTER_SECONDS = 20.0
STARTUP_SECONDS = 600.0
_ARCHIVED_TOO = [("active", "in", [True, False])]
PIPELINE_MODELS = (
    "res.partner",
    "sale.order",
    "account.move",
    "helpdesk.ticket",
    "x_product_usage",
)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    nodes = LocalCluster(data_dir=tmp_path / "cluster", size=3, heap="512m")
    # Generous: the machine's two cores may be shared with other work.
    nodes.start(timeout=STARTUP_SECONDS)
    try:
        yield nodes
    finally:
        nodes.stop()


@dataclass
class BrokerLoss:
    """What the fault thread did, for the assertions."""

    killed_node: int | None = None
    enriched_at_kill: int = 0
    restarted: bool = False
    error: BaseException | None = None


def _enriched_records(bootstrap: str, topic: str, timeout: float = 60.0) -> int:
    """Records on ``topic``; leadership moves (a node starting) are waited out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return _end_offsets(bootstrap, topic)
        except KafkaException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _end_offsets(bootstrap: str, topic: str) -> int:
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "broker-loss-probe"}
    )
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return 0
        return sum(
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in metadata.partitions
        )
    finally:
        consumer.close()


def _described(bootstrap: str, topic: str, timeout: float = 60.0) -> LiveTopic:
    """The topic as the cluster describes it, once its creation reached every node."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            live = topic_plan.describe_live(admin, [topic])
        except topic_plan.TopicPlanError:
            live = {}  # described by one node, not yet known to another
        if topic in live:
            return live[topic]
        time.sleep(0.5)
    raise AssertionError(f"{topic} was not described within {timeout:.0f}s")


def _leader_of(bootstrap: str, topic: str, partition: int) -> int:
    metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(
        topic, timeout=10
    )
    return metadata.topics[topic].partitions[partition].leader


def _lose_a_broker(
    cluster: LocalCluster, enriched: str, loss: BrokerLoss, done: threading.Event
) -> None:
    """Wait for the first enriched records, kill that topic's leader, restart it."""
    try:
        while not done.is_set():
            loss.enriched_at_kill = _enriched_records(
                cluster.bootstrap_servers, enriched
            )
            if loss.enriched_at_kill > 0:
                break
            time.sleep(0.2)
        else:
            return
        loss.killed_node = _leader_of(cluster.bootstrap_servers, enriched, 0)
        cluster.kill(loss.killed_node)
        done.wait(RESTART_AFTER_SECONDS)
        cluster.restart(loss.killed_node, timeout=STARTUP_SECONDS)
        loss.restarted = True
    except BaseException as error:  # noqa: BLE001 - reported by the test thread
        loss.error = error


def _records_per_external_id(odoo_db: Path, work_dir: Path) -> tuple[Counter, dict]:
    """Reopen the demo's Odoo database; count records per external id and model."""
    reopened = work_dir / "reopened"
    reopened.mkdir()
    shutil.copy(odoo_db, reopened / "standin.sqlite")
    fresh = work_dir / "fresh"
    fresh.mkdir()
    owners: Counter = Counter()
    surplus: dict[str, int] = {}
    server = StandinProcess(
        reopened, database="demo", login="admin", api_key=STANDIN_API_KEY
    )
    empty = StandinProcess(
        fresh, database="demo", login="admin", api_key=STANDIN_API_KEY
    )
    standin, seeded = server.start(), empty.start()
    try:
        odoo = Settings(odoo=standin.settings("json2")).odoo
        module = odoo.xmlid_module
        with make_client(odoo) as client, make_client(seeded.settings("json2")) as base:
            xmlids = client.search_read(
                "ir.model.data", [("module", "=", module)], ["model", "res_id"]
            )
            owners.update((row["model"], row["res_id"]) for row in xmlids)
            per_model = Counter(row["model"] for row in xmlids)
            for model in PIPELINE_MODELS:
                # Records without one of our external ids, beyond the stand-in's own
                # seed data, would be writes that bypassed the upsert. Archived
                # partners (absorbed accounts) count too.
                everything = _ARCHIVED_TOO if model == "res.partner" else []
                unnamed = (
                    client.search_count(model, everything)
                    - per_model[model]
                    - base.search_count(model, everything)
                )
                surplus[model] = unnamed
    finally:
        server.stop()
        empty.stop()
    return owners, surplus


def test_pipeline_survives_losing_one_of_three_brokers(
    cluster: LocalCluster,
    corpus_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # 1. topics as declared, three replicas and two in-sync replicas required
    settings = Settings(
        kafka={
            "bootstrap_servers": cluster.bootstrap_servers,
            "partitions": 3,
            "replication_factor": 3,
        }
    )
    declared = topic_plan.load_declared(settings)
    topic_plan.apply(settings, topic_plan.plan(settings, declared))
    enriched = Topics(settings.kafka.topic_prefix).enriched
    live = _described(cluster.bootstrap_servers, enriched)
    assert live.replication_factor == 3
    assert live.config["min.insync.replicas"] == "2"

    # 2. the pipeline on the corpus, with a broker killed once records flow
    loss, done = BrokerLoss(), threading.Event()
    fault = threading.Thread(
        target=_lose_a_broker, args=(cluster, enriched, loss, done), daemon=True
    )
    fault.start()
    state_dir = tmp_path / "demo"
    try:
        status = run_demo(
            corpus_dir,
            state_dir,
            bootstrap=cluster.bootstrap_servers,
            replication_factor=3,
        )
    finally:
        done.set()
        fault.join(timeout=180)
    output = capsys.readouterr().out

    assert loss.error is None, f"the broker-loss thread failed: {loss.error!r}"
    assert loss.killed_node is not None, "no broker was killed: no record flowed"
    assert loss.restarted
    # The kill happened mid-run: the enriched topic then held only part of its records.
    assert (
        0
        < loss.enriched_at_kill
        < _enriched_records(cluster.bootstrap_servers, enriched)
    )

    # 3. nothing lost: Odoo equals expected.json (compare_end_state inside run_demo)
    assert "end state matches" in output, output
    assert status == 0

    # 4. nothing duplicated: one record per external id, no record without one
    owners, surplus = _records_per_external_id(state_dir / "odoo.sqlite", tmp_path)
    shared = {owner: n for owner, n in owners.items() if n > 1}
    assert not shared, f"records holding several external ids: {shared}"
    assert all(count == 0 for count in surplus.values()), surplus
