"""Attacks on the correlate stage of the real worker, on a local broker.

Records are written straight to ``processing.deduplicated`` (the correlate stage's
input), so each attack reaches the stage exactly as written:

* bad records between good events (bytes that are not Avro, a tick with a value, a tick
  stamped far in the past, a payment whose invoice never comes, a well-framed record
  that no schema reads): logged and skipped, the worker keeps going and the good events
  around them are applied;
* the ``/reorder/`` view counts held events and falls to zero once holds end;
* a SIGKILL right after events were held (before their offsets were committed), then a
  restart: every held event is applied once, in event-time order, and a record
  published twice carries the same content both times.

One worker runs at a time, on the session's broker.
"""

from __future__ import annotations

import io
import json
import logging
import signal
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import fastavro
import pytest
from confluent_kafka import Consumer, Message, Producer, TopicPartition
from processor_worker import running_worker, start_worker, worker_environment

from devstack.local_kafka import free_port
from eventbus import AvroCodec, Topics
from eventbus.kafka_config import consumer_config, producer_config
from eventbus.topic_admin import ensure_topics
from pipeline.settings import Settings
from tests.support.business_events import (
    business_event,
    crm_contact,
    node,
    refunded_charge_payload,
)

pytestmark = pytest.mark.integration

logger = logging.getLogger(__name__)

SECOND = 1_000_000
T0 = 1_760_000_000 * SECOND
TICK_HEADER = "pipeline-tick"
LATE_REASON_HEADER = "late-reason"
READ_TIMEOUT_SECONDS = 90.0
# Time from a worker's start to the good events around a burst of unreadable records:
# start-up, partition assignment and one hold, with room for a slow shared machine.
SKIP_TIMEOUT_SECONDS = 60.0


codec = AvroCodec()


def contact(record_id: str, modified_at: int, name: str) -> dict[str, Any]:
    """A CRM contact snapshot without a company: its own account."""
    return crm_contact(
        record_id, modified_at, name, created_at=T0, source_object_id=record_id
    )


def orphan_payment(occurred_at: int) -> dict[str, Any]:
    """A refund whose invoice never comes."""
    payload = refunded_charge_payload(
        "ch_orphan", "in_never", "cus_orphan", refunded=100
    )
    return business_event(
        f"evt_orphan_{occurred_at}",
        "charge.refunded",
        occurred_at,
        ("pipeline.Charge", payload),
        node("billing_customer", "cus_orphan"),
        source_system="billing",
        source_object_id="cus_orphan",
    )


def unreadable_by_schema() -> bytes:
    """Well-framed BusinessEvent bytes whose ``source_system`` enum index is beyond
    the schema's symbols."""
    header = codec.encode("BusinessEvent", contact("c_any", T0, "Any"))[:5]
    body = io.BytesIO()
    fastavro.schemaless_writer(body, {"type": "string"}, "evt_bad")
    fastavro.schemaless_writer(body, {"type": "string"}, "crm.contact")
    fastavro.schemaless_writer(body, {"type": "int"}, 60)
    return header + body.getvalue() + b"\x00" * 32


# -- the worker and the topics ---------------------------------------------------------


def environment(settings: Settings, web_port: int, **processors: Any) -> dict[str, str]:
    env = worker_environment(settings)
    env["PIPELINE_PROCESSORS__WEB_PORT"] = str(web_port)
    for name, value in processors.items():
        env[f"PIPELINE_PROCESSORS__{name.upper()}"] = str(value)
    return env


def send(
    settings: Settings, records: list[tuple[bytes, bytes, list[Any], int | None]]
) -> None:
    """(key, value, headers, timestamp in ms or None) to processing.deduplicated."""
    topic = Topics(settings.kafka.topic_prefix).deduplicated
    producer = Producer(producer_config(settings.kafka, "reorder-attacks"))
    for key, value, headers, timestamp in records:
        if timestamp is None:
            producer.produce(topic, key=key, value=value, headers=headers)
        else:
            producer.produce(
                topic, key=key, value=value, headers=headers, timestamp=timestamp
            )
    assert producer.flush(30) == 0


def event_record(event: dict[str, Any]) -> tuple[bytes, bytes, list[Any], None]:
    return (
        event["account_key"].encode(),
        codec.encode("BusinessEvent", event),
        [],
        None,
    )


def held_events(web_port: int) -> int | None:
    url = f"http://127.0.0.1:{web_port}/reorder/"
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return json.loads(answer.read())["held_events"]
    except (OSError, ValueError):
        return None


def wait_for_held(web_port: int, wanted: int, timeout: float) -> list[int | None]:
    """Poll the view until it answers ``wanted``; every answer seen, in order."""
    answers: list[int | None] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answers.append(held_events(web_port))
        if answers[-1] == wanted:
            return answers
        time.sleep(0.2)
    return answers


def contact_in(
    message: Message | None, record_ids: set[str]
) -> list[tuple[str, int, str]]:
    """The contact record of ``record_ids`` a polled message carries, as
    [(id, version, name)], or nothing."""
    if message is None or message.error():
        return []
    record = codec.decode("EnrichedEvent", message.value())
    if record["record_kind"] != "contact" or record["record_id"] not in record_ids:
        return []
    return [(record["record_id"], record["version"], record["payload"][1]["name"])]


def read_contacts(
    settings: Settings, record_ids: set[str], wanted: int, timeout: float
) -> list[tuple[str, int, str]]:
    """Published contact records of ``record_ids`` as (id, version, name), in order."""
    topics = Topics(settings.kafka.topic_prefix)
    consumer = Consumer(
        consumer_config(settings.kafka, f"reader-{uuid.uuid4().hex[:8]}", "reader")
    )
    consumer.subscribe([topics.enriched])
    found: list[tuple[str, int, str]] = []
    deadline = time.monotonic() + timeout
    try:
        while len(found) < wanted and time.monotonic() < deadline:
            found.extend(contact_in(consumer.poll(1.0), record_ids))
        # Anything more that is already there (a repeat after a crash).
        quiet_until = time.monotonic() + 5
        while time.monotonic() < quiet_until:
            found.extend(contact_in(consumer.poll(0.5), record_ids))
    finally:
        consumer.close()
    return found


def read_late(settings: Settings, timeout: float) -> list[tuple[bytes, bytes, str]]:
    """The first record on processing.late: (key, value, late-reason header)."""
    consumer = Consumer(
        consumer_config(settings.kafka, f"late-{uuid.uuid4().hex[:8]}", "reader")
    )
    consumer.subscribe([Topics(settings.kafka.topic_prefix).late])
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is None or message.error():
                continue
            headers = dict(message.headers() or [])
            reason = headers.get(LATE_REASON_HEADER, b"").decode()
            return [(message.key(), message.value(), reason)]
    finally:
        consumer.close()
    return []


# -- the attacks -----------------------------------------------------------------------


def test_bad_records_between_good_events_are_skipped(
    pipeline_settings: Settings, tmp_path: Path
) -> None:
    ensure_topics(pipeline_settings)
    port = free_port()
    env = environment(
        pipeline_settings,
        port,
        reorder_hold_seconds=1.0,
        reorder_dependency_wait_seconds=3.0,
    )
    a_day_ago_ms = int(time.time() * 1000) - 86_400_000
    send(
        pipeline_settings,
        [
            event_record(contact("c_good", T0, "First")),
            (b"c_good", b"\x00not an avro record", [], None),
            (b"c_good", b"", [], None),
            (b"reorder-tick", b"", [(TICK_HEADER, b"1")], a_day_ago_ms),
            event_record(orphan_payment(T0)),
            event_record(contact("c_good", T0 + SECOND, "Second")),
        ],
    )

    with running_worker(env, tmp_path / "worker.log") as worker:
        contacts = read_contacts(
            pipeline_settings, {"c_good"}, wanted=2, timeout=READ_TIMEOUT_SECONDS
        )
        answers = wait_for_held(port, 0, timeout=30)
        # Its account has moved on and its record holds a newer snapshot.
        stale = event_record(contact("c_good", T0 - SECOND, "Stale"))
        send(pipeline_settings, [stale])
        late = read_late(pipeline_settings, timeout=READ_TIMEOUT_SECONDS)
        assert worker.poll() is None, "the worker stopped"

    assert [(name, version) for _id, version, name in contacts] == [
        ("First", T0),
        ("Second", T0 + SECOND),
    ]
    assert answers[-1] == 0, answers
    assert [(key, value) for key, value, _reason in late] == [
        (f"crm_contact:c_good:{T0 - SECOND}".encode(), stale[1])
    ]
    assert late[0][2], "no late-reason header"


def committed_offset(settings: Settings) -> int | None:
    """The worker's committed offset on ``processing.deduplicated`` (one partition)."""
    topic = Topics(settings.kafka.topic_prefix).deduplicated
    consumer = Consumer(
        consumer_config(settings.kafka, settings.processors.app_id, "offset-probe")
    )
    try:
        [position] = consumer.committed([TopicPartition(topic, 0)], timeout=10)
    finally:
        consumer.close()
    return position.offset if position.offset >= 0 else None


def wait_for_commit(settings: Settings, wanted: int, timeout: float) -> int | None:
    deadline = time.monotonic() + timeout
    offset = committed_offset(settings)
    while (offset is None or offset < wanted) and time.monotonic() < deadline:
        time.sleep(1)
        offset = committed_offset(settings)
    return offset


@pytest.mark.parametrize(
    "bad_records", [1, pytest.param(20, marks=pytest.mark.slow, id="a_burst_of_20")]
)
def test_a_record_no_schema_reads_is_skipped(
    pipeline_settings: Settings, tmp_path: Path, bad_records: int
) -> None:
    ensure_topics(pipeline_settings)
    port = free_port()
    env = environment(pipeline_settings, port, reorder_hold_seconds=1.0)
    unreadable = (b"c_schema", unreadable_by_schema(), [], None)
    records = [
        event_record(contact("c_schema", T0, "First")),
        *[unreadable] * bad_records,
        event_record(contact("c_schema", T0 + SECOND, "Second")),
    ]
    send(pipeline_settings, records)

    with running_worker(env, tmp_path / "worker.log") as worker:
        # A skipped record costs microseconds; the good events around a burst of
        # them are due one hold (1 s) after they were read.
        contacts = read_contacts(
            pipeline_settings, {"c_schema"}, wanted=2, timeout=SKIP_TIMEOUT_SECONDS
        )
        assert worker.poll() is None, "the worker stopped"
        # Ticks follow the records while "Second" is held; the group must commit
        # past every skipped record, or each restart reads them all again.
        committed = wait_for_commit(pipeline_settings, len(records), timeout=30)

    assert [name for _id, _version, name in contacts] == ["First", "Second"]
    assert committed is not None and committed >= len(records), committed


def test_the_reorder_view_counts_held_events_until_their_hold_ends(
    pipeline_settings: Settings, tmp_path: Path
) -> None:
    ensure_topics(pipeline_settings)
    port = free_port()
    env = environment(pipeline_settings, port, reorder_hold_seconds=15.0)

    with running_worker(env, tmp_path / "worker.log"):
        assert wait_for_held(port, 0, timeout=90)[-1] == 0, "the view never answered"
        send(
            pipeline_settings,
            [
                event_record(contact("c_view", T0 + SECOND, "Newer")),
                event_record(contact("c_view", T0, "Older")),
            ],
        )
        holding = wait_for_held(port, 2, timeout=20)
        assert holding[-1] == 2, holding
        drained = wait_for_held(port, 0, timeout=60)
        contacts = read_contacts(
            pipeline_settings, {"c_view"}, wanted=2, timeout=READ_TIMEOUT_SECONDS
        )

    assert drained[-1] == 0, drained
    assert [name for _id, _version, name in contacts] == ["Older", "Newer"]


@pytest.mark.slow
def test_a_kill_while_events_are_held_loses_and_doubles_nothing(
    pipeline_settings: Settings, tmp_path: Path
) -> None:
    ensure_topics(pipeline_settings)
    port = free_port()
    env = environment(pipeline_settings, port, reorder_hold_seconds=20.0)
    versions = [3, 0, 2, 1]
    log_path = tmp_path / "worker.log"

    first = start_worker(env, log_path)
    try:
        assert wait_for_held(port, 0, timeout=90)[-1] == 0, "the view never answered"
        send(
            pipeline_settings,
            [
                event_record(contact("c_kill", T0 + v * SECOND, f"v{v}"))
                for v in versions
            ],
        )
        holding = wait_for_held(port, len(versions), timeout=30)
        assert holding[-1] == len(versions), holding
    finally:
        # At once: the offsets of the held records are most likely not committed yet,
        # so the restarted worker reads them again and answers from their entries.
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    # Below the number of records sent, the restart answers those from their entries.
    committed_at_kill = committed_offset(pipeline_settings)
    logger.info("committed offset at the kill: %s", committed_at_kill)

    with running_worker(env, log_path):
        drained = wait_for_held(port, 0, timeout=90)
        contacts = read_contacts(
            pipeline_settings,
            {"c_kill"},
            wanted=len(versions),
            timeout=READ_TIMEOUT_SECONDS,
        )

    assert drained[-1] == 0, drained
    by_version: dict[int, set[str]] = {}
    for _id, version, name in contacts:
        by_version.setdefault(version, set()).add(name)
    assert by_version == {T0 + v * SECOND: {f"v{v}"} for v in versions}
    first_seen = list(dict.fromkeys(version for _id, version, _name in contacts))
    assert first_seen == sorted(first_seen), (
        f"committed at the kill: {committed_at_kill}"
    )
