"""Ingesting the corpus into the real broker and reading every topic back."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from eventbus import AvroCodec, Topics
from eventbus.topic_admin import ensure_topics
from pipeline.settings import Settings
from pipeline.topic_reader import read_all
from producers.corpus import read_corpus
from producers.ingest import ingest_corpus
from producers.outcomes import AcceptedEvent, RejectedLine

pytestmark = pytest.mark.integration


def _header(message, name: str) -> str | None:
    for key, value in message.headers() or []:
        if key == name:
            return value.decode()
    return None


def test_corpus_lands_on_the_topics(
    corpus_dir: Path, pipeline_settings: Settings
) -> None:
    ensure_topics(pipeline_settings)
    outcomes = list(read_corpus(corpus_dir))
    expected_keys: dict[str, Counter[tuple[str, str]]] = {}
    for outcome in outcomes:
        if isinstance(outcome, AcceptedEvent):
            keys = expected_keys.setdefault(outcome.source_system, Counter())
            keys[(outcome.key, outcome.event["event_id"])] += 1
    expected_rejections = {
        (o.record["source_name"], o.record["position"], o.record["reason"])
        for o in outcomes
        if isinstance(o, RejectedLine)
    }

    report = ingest_corpus(corpus_dir, pipeline_settings)

    assert report.lines_read == len(outcomes)
    assert report.rejected == len(expected_rejections)
    topics = Topics(pipeline_settings.kafka.topic_prefix)
    codec = AvroCodec()
    for source_system in ("billing", "product", "helpdesk", "crm"):
        published: Counter[tuple[str, str]] = Counter()
        for message in read_all(
            pipeline_settings.kafka, topics.source_topic(source_system)
        ):
            event = codec.decode("BusinessEvent", message.value())
            assert message.key().decode() == event["account_key"]
            assert event["identity"]["anchor"]["id"] == event["account_key"]
            traceparent = _header(message, "traceparent")
            assert traceparent is not None and traceparent.startswith("00-")
            assert event["trace_context"]["traceparent"] == traceparent
            published[(event["account_key"], event["event_id"])] += 1
        assert published == expected_keys.get(source_system, Counter()), source_system
        assert report.accepted_by_source[source_system] == sum(published.values())

    dead_letters = set()
    for message in read_all(pipeline_settings.kafka, topics.ingest_deadletter):
        record = codec.decode("RejectedInput", message.value())
        assert message.key().decode() == record["source_name"]
        assert record["detail"]
        dead_letters.add((record["source_name"], record["position"], record["reason"]))
    assert dead_letters == expected_rejections
