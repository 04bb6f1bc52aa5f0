"""The processors' worker killed (SIGKILL) while records flow, restarted, caught up.

What at-least-once with versioned records promises, and what is asserted here:

* folding ``enriched.accounts`` the way the sink does (newest version per record, merges
  followed) gives exactly the corpus's expected.json: no business record is lost and none
  is counted twice (usage totals included);
* every record published twice (a replay after a crash) carries the same payload under
  the same version, on the same account once merges are followed, so the sink's version
  guard makes the repeat a no-op;
* under one Kafka key a record's version steps back only to repeat, with the same
  content, a version that key already carried: the worker re-reads from its last
  committed offset and re-publishes that stretch's records as they were first published
  (the output journal), so an older version can follow a newer one, but never a state
  the topic did not already hold. The sink's version guard skips such repeats.

Not asserted: that the topic holds each record once, nor that versions per key only
grow; both fail by design after a crash under at-least-once. The repeats are counted
in the log.
"""

from __future__ import annotations

import json
import logging
import random
import signal
import subprocess
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from processor_worker import (
    WAIT_SECONDS,
    read_settled,
    running_worker,
    start_worker,
    worker_environment,
)

from eventbus import AvroCodec, Topics
from eventbus.kafka_config import consumer_config
from eventbus.topic_admin import ensure_topics
from pipeline.settings import Settings
from pipeline.topic_reader import read_all
from producers.ingest import ingest_corpus
from tests.support.corpus_oracle import corpus_oracle

pytestmark = [pytest.mark.integration, pytest.mark.slow]

logger = logging.getLogger(__name__)

KILLS = 3
START_TIMEOUT_SECONDS = 90.0
# Microseconds in a second: versions are event times in microseconds.
SECOND = 1_000_000


oracle = corpus_oracle()


def published_count(consumer: Consumer, topic: str) -> int:
    """Records on ``topic`` so far (sum of the high watermarks)."""
    metadata = consumer.list_topics(topic, timeout=10)
    if topic not in metadata.topics or metadata.topics[topic].error is not None:
        return 0
    return sum(
        consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
        for p in metadata.topics[topic].partitions
    )


def kill_when_published(
    worker: subprocess.Popen[bytes], consumer: Consumer, topic: str, threshold: int
) -> int:
    """SIGKILL the worker as soon as ``topic`` holds ``threshold`` records."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    count = published_count(consumer, topic)
    while count < threshold:
        assert worker.poll() is None, "worker exited on its own"
        assert time.monotonic() < deadline, f"no progress past {count} records"
        time.sleep(0.05)
        count = published_count(consumer, topic)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=30)
    return count


def lag(consumer: Consumer, topics: list[str]) -> int:
    """Records on ``topics`` the worker's group has not committed yet."""
    partitions = [
        TopicPartition(topic, partition)
        for topic in topics
        for partition in consumer.list_topics(topic, timeout=10)
        .topics[topic]
        .partitions
    ]
    behind = 0
    for committed in consumer.committed(partitions, timeout=10):
        high = consumer.get_watermark_offsets(committed, timeout=10)[1]
        behind += high - max(committed.offset, 0)
    return behind


def wait_until_caught_up(settings: Settings) -> None:
    """Wait until the worker committed everything on its input topics.

    The output topics alone cannot tell: a restarted worker publishes nothing while it
    starts and recovers its tables, which looks like a settled topic.
    """
    topics = Topics(settings.kafka.topic_prefix)
    group = Consumer(consumer_config(settings.kafka, settings.processors.app_id, "lag"))
    deadline = time.monotonic() + WAIT_SECONDS
    try:
        while lag(group, [*topics.source_topics, topics.deduplicated]) > 0:
            assert time.monotonic() < deadline, "worker did not catch up in time"
            time.sleep(1)
    finally:
        group.close()


def test_sigkilled_worker_catches_up_to_the_expected_state(
    corpus_dir: Path, pipeline_settings: Settings, tmp_path: Path
) -> None:
    expected = json.loads((corpus_dir / "expected.json").read_text(encoding="utf-8"))
    clean_run, _ = oracle.run_pipeline(oracle.accepted_events(corpus_dir), expected)
    seed = random.SystemRandom().randrange(2**32)
    rng = random.Random(seed)
    # Kill points: fractions of the records one clean pass publishes, in order.
    thresholds = sorted(
        max(1, int(len(clean_run) * rng.uniform(low, low + 0.25)))
        for low in (0.05, 0.35, 0.65)
    )[:KILLS]

    ensure_topics(pipeline_settings)
    ingest_corpus(corpus_dir, pipeline_settings)
    topics = Topics(pipeline_settings.kafka.topic_prefix)
    log_path = tmp_path / "worker.log"
    watcher = Consumer(
        consumer_config(
            pipeline_settings.kafka, f"watch-{uuid.uuid4().hex[:8]}", "watcher"
        )
    )
    killed_at = []
    try:
        for threshold in thresholds:
            worker = start_worker(worker_environment(pipeline_settings), log_path)
            killed_at.append(
                kill_when_published(worker, watcher, topics.enriched, threshold)
            )
    finally:
        watcher.close()
    with running_worker(worker_environment(pipeline_settings), log_path):
        wait_until_caught_up(pipeline_settings)
        read_settled(pipeline_settings)

    codec = AvroCodec()
    published = [
        (m.key().decode(), codec.decode("EnrichedEvent", m.value()))
        for m in read_all(pipeline_settings.kafka, topics.enriched)
    ]
    context = f"seed {seed}, killed at {killed_at} of {len(clean_run)} records"
    logger.info("restart test: %s, %d records on the topic", context, len(published))

    # 1. the sink's fold reaches expected.json
    dump = tmp_path / "enriched.json"
    dump.write_text(json.dumps(published, default=str))
    try:
        oracle.assert_matches_expected(
            oracle.fold_like_the_sink([record for _, record in published]), expected
        )
    except AssertionError as failure:
        raise AssertionError(f"{failure} ({context}; records in {dump})") from failure
    # 2. the same record and version always carries the same content
    assert_repeats_are_identical(published, context)
    # 3. per key, a record's version steps back only to repeat what it carried
    assert_versions_go_backwards_only_as_repeats(published, context)
    # 4. every record of the clean run is there, none more
    assert_same_records_as_clean_run(published, clean_run, context)


def _content(record: dict[str, Any]) -> str:
    return json.dumps(record["payload"], default=str)


def _merged_into(published: list[tuple[str, dict[str, Any]]]) -> dict[str, str]:
    return {
        record["record_id"]: record["payload"][1]["survivor_id"]
        for _, record in published
        if record["record_kind"] == "account_merge"
    }


def _final_account(account_id: str, merged_into: dict[str, str]) -> str:
    while account_id in merged_into:
        account_id = merged_into[account_id]
    return account_id


def assert_repeats_are_identical(
    published: list[tuple[str, dict[str, Any]]], context: str
) -> None:
    """A record published again under the same version carries the same payload, on
    the same account once merges are followed. (An event processed again after a
    crash lost its journal entry publishes under the account's current id, which may
    be the survivor of a merge since.)"""
    merged_into = _merged_into(published)
    seen: dict[tuple[str, str, int], tuple[str, str]] = {}
    repeats = 0
    for _, record in published:
        identity = (record["record_kind"], record["record_id"], record["version"])
        account = _final_account(record["canonical_account_id"], merged_into)
        if identity[0] == "account_profile":
            # A profile's id is its record id, and its content is the account.
            account = record["record_id"]
        content = (_content(record), account)
        if identity in seen:
            repeats += 1
            assert seen[identity] == content, f"{identity} changed content ({context})"
        seen[identity] = content
    logger.info("restart test: %d records published again after crashes", repeats)


def assert_versions_go_backwards_only_as_repeats(
    published: list[tuple[str, dict[str, Any]]], context: str
) -> None:
    """Under one key, a record's version may only step back to a version that key
    already carried, with the same content: a replay of the stretch after the last
    committed offset, which the sink's version guard skips."""
    newest: dict[tuple[str, str, str], int] = {}
    seen: dict[tuple[str, str, str, int], str] = {}
    stepped_back = 0
    for key, record in published:
        identity = (key, record["record_kind"], record["record_id"])
        version = int(record["version"])
        content = _content(record)
        if version < newest.get(identity, version):
            stepped_back += 1
            assert seen.get((*identity, version)) == content, (
                f"{identity} went from version {newest[identity]} back to {version}, "
                f"which it never carried with this content ({context})"
            )
        newest[identity] = max(version, newest.get(identity, version))
        seen[(*identity, version)] = content
    logger.info("restart test: %d repeats stepped back a version", stepped_back)


def assert_same_records_as_clean_run(
    published: list[tuple[str, dict[str, Any]]],
    clean_run: list[dict[str, Any]],
    context: str,
) -> None:
    def final_versions(records: list[dict[str, Any]]) -> dict[tuple[str, str], Any]:
        finals: dict[tuple[str, str], Any] = defaultdict(int)
        for record in records:
            if record["record_kind"] in ("account_profile", "account_merge"):
                # Ids and profile revisions depend on the order accounts were seen.
                continue
            identity = (record["record_kind"], record["record_id"])
            finals[identity] = max(finals[identity], int(record["version"]))
        return dict(finals)

    after_crashes = final_versions([record for _, record in published])
    clean = final_versions(clean_run)
    assert sorted(after_crashes) == sorted(clean), context
    for identity, version in clean.items():
        # Usage versions count distinct calls: the same whatever the delivery. A
        # snapshot's version is its event time, raised by one microsecond for each
        # snapshot of the same instant applied before it, and how many of those were
        # applied depends on the order they were read (the reference here reads the
        # corpus in file order, the worker in event-time order): the event time itself
        # must match. An invoice's final version also depends on whether a refund
        # came before or after it, which the interleaving decides.
        if identity[0] == "usage_daily":
            assert after_crashes[identity] == version, f"{identity} ({context})"
        elif identity[0] != "invoice":
            same_instant = after_crashes[identity] // SECOND == version // SECOND
            assert same_instant, f"{identity} ({context})"
