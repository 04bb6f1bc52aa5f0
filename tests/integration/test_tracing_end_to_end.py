"""The whole demo job, read back from its spans: one connected trace per business event.

For every event the adapters accept from the corpus, the exported spans must hold one
trace, rooted at the producers' publish span, that runs deduplicate → reorder → correlate → the
sink's record span → Odoo call spans, or ends earlier with a duplicate, late or
no-change outcome. Every hop carries the messaging and business attributes an operator
searches by, and no span attribute holds an e-mail address, a phone number or a
person's name from the corpus (read from the corpus files here, not written down).
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pipeline.demo import run_demo
from producers.corpus import read_corpus
from producers.outcomes import AcceptedEvent
from telemetry.span_attributes import TERMINAL_OUTCOMES, Workflow
from telemetry.trace_view import SpanRecord, TraceIndex, final_outcomes, load_spans

pytestmark = pytest.mark.integration

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
PERSON_NAME_KEYS = {"name", "first_name", "last_name", "firstname", "lastname"}
WORKFLOWS = {w.value for w in Workflow}


# -- what the corpus says ------------------------------------------------------------


def accepted_event_ids(corpus_dir: Path) -> Counter[str]:
    """Event ids of every line the adapters accept (redeliveries counted each time)."""
    outcomes = read_corpus(corpus_dir, datetime.now(tz=UTC))
    return Counter(
        str(o.event["event_id"]) for o in outcomes if isinstance(o, AcceptedEvent)
    )


def _walk(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def personal_values(corpus_dir: Path) -> dict[str, set[str]]:
    """E-mail addresses, phone numbers and people's names found in the corpus files."""
    found: dict[str, set[str]] = {"email": set(), "phone": set(), "name": set()}
    for path in sorted(corpus_dir.rglob("*")):
        if path.suffix not in {".jsonl", ".csv"}:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        found["email"] |= {m.lower() for m in EMAIL.findall(text)}
        if path.suffix == ".csv":
            for row in csv.DictReader(text.splitlines()):
                for column, value in row.items():
                    lowered = (column or "").lower()
                    if not value:
                        continue
                    if "phone" in lowered:
                        found["phone"].add(value.strip())
                    if lowered in {"first name", "last name"}:
                        found["name"].add(value.strip())
            continue
        for line in text.splitlines():
            try:
                document = json.loads(line)
            except json.JSONDecodeError:
                continue
            for node in _walk(document):
                for key, value in node.items():
                    if not isinstance(value, str) or not value.strip():
                        continue
                    if "phone" in key.lower():
                        found["phone"].add(value.strip())
                # A name next to an e-mail address is a person's (or a mailbox's).
                has_email = any(
                    isinstance(v, str) and EMAIL.fullmatch(v.strip())
                    for v in node.values()
                )
                if has_email:
                    for key in PERSON_NAME_KEYS & {k.lower() for k in node}:
                        name = next(v for k, v in node.items() if k.lower() == key)
                        if isinstance(name, str) and name.strip():
                            found["name"].add(name.strip())
    found["name"] = {n for n in found["name"] if len(n) >= 3}
    return found


# -- what the spans say --------------------------------------------------------------


def _is_odoo_call(span: SpanRecord) -> bool:
    return "odoo.method" in span.attributes


def _children(index: TraceIndex, span: SpanRecord, name: str) -> list[SpanRecord]:
    return [c for c in index.children(span) if c.name == name]


@pytest.fixture(scope="module")
def demo_run(
    corpus_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[int, Path]:
    state_dir = tmp_path_factory.mktemp("tracing") / "demo"
    return run_demo(corpus_dir, state_dir), state_dir


@pytest.fixture(scope="module")
def index(demo_run: tuple[int, Path]) -> TraceIndex:
    status, state_dir = demo_run
    assert status == 0, f"the demo did not reach the expected end state ({state_dir})"
    return TraceIndex.of(load_spans(state_dir / "spans.jsonl"))


def publish_spans(index: TraceIndex) -> list[SpanRecord]:
    return [
        s
        for s in index.spans.values()
        if s.service == "producers"
        and s.attributes.get("messaging.operation.type") == "send"
    ]


def test_every_accepted_event_has_exactly_one_publish_span(
    index: TraceIndex, corpus_dir: Path
) -> None:
    published = Counter(str(s.attributes["event.id"]) for s in publish_spans(index))
    assert published == accepted_event_ids(corpus_dir)


def test_every_event_is_one_connected_trace_to_its_last_hop(
    index: TraceIndex,
) -> None:
    reached_odoo = 0
    for publish in publish_spans(index):
        trace = publish.trace_id
        assert index.roots(trace) == [publish], f"trace {trace} is not connected"

        [dedup] = _children(index, publish, "deduplicate")
        assert dedup.outcome in {"passed", "duplicate"}, trace
        if dedup.outcome == "duplicate":
            assert index.children(dedup) == [], trace
            assert final_outcomes(index, trace) == ["duplicate"]
            continue

        [reorder] = _children(index, dedup, "reorder")
        assert reorder.outcome == "passed", trace
        [correlate] = _children(index, reorder, "correlate")
        assert correlate.outcome in {"enriched", "late", "no_change"}, trace
        sink_spans = [c for c in index.children(correlate) if c.service == "odoo-sink"]
        if correlate.outcome != "enriched":
            assert sink_spans == [], trace
            continue

        # Correlate counted its enriched records; each reached the sink in this trace.
        assert len(sink_spans) == correlate.attributes["pipeline.records_out"], trace
        for sink_span in sink_spans:
            assert sink_span.outcome in TERMINAL_OUTCOMES, trace
            if sink_span.outcome == "written":
                calls = [s for s in index.descendants(sink_span) if _is_odoo_call(s)]
                assert calls, f"{trace}: a written record made no Odoo call"
                reached_odoo += 1
        assert set(final_outcomes(index, trace)) <= set(TERMINAL_OUTCOMES), trace
    assert reached_odoo > 0


def test_hops_carry_messaging_and_business_attributes(index: TraceIndex) -> None:
    for span in index.spans.values():
        attributes = span.attributes
        stages = {"deduplicate", "reorder", "correlate"}
        if span.name in stages or span.service == "odoo-sink":
            if _is_odoo_call(span):
                assert attributes["odoo.model"] and attributes["odoo.method"]
                continue
            if span.name == "sink batch write":
                assert attributes["messaging.batch.message_count"] == len(span.links)
                continue
            assert attributes["messaging.system"] == "kafka"
            assert attributes["messaging.operation.type"] == "process"
            assert attributes["messaging.destination.name"]
            assert attributes["messaging.destination.partition.id"].isdigit()
            assert isinstance(attributes["messaging.kafka.offset"], int)
            assert attributes["messaging.consumer.group.name"]
        if span.service == "odoo-sink" and span.name.startswith("process "):
            assert attributes["workflow"] in WORKFLOWS
            assert attributes["account.canonical_id"]
            if span.outcome == "written":
                assert attributes["odoo.model"]
                assert attributes["odoo.external_id"]
    for publish in publish_spans(index):
        attributes = publish.attributes
        assert attributes["messaging.system"] == "kafka"
        assert attributes["messaging.destination.name"].endswith(
            attributes["source.system"]
        )
        assert attributes["event.type"]
        assert attributes["source.object_id"]
        assert attributes["workflow"] in WORKFLOWS


def test_no_span_attribute_holds_personal_data_from_the_corpus(
    index: TraceIndex, corpus_dir: Path
) -> None:
    personal = personal_values(corpus_dir)
    assert personal["email"] and personal["name"], "the corpus check found nothing"
    patterns = [
        re.compile(re.escape(email), re.IGNORECASE) for email in personal["email"]
    ]
    patterns += [re.compile(re.escape(phone)) for phone in personal["phone"]]
    patterns += [
        re.compile(rf"\b{re.escape(name)}\b", re.IGNORECASE)
        for name in personal["name"]
    ]
    for span in index.spans.values():
        for key, value in span.attributes.items():
            text = json.dumps(value, ensure_ascii=False)
            for pattern in patterns:
                assert not pattern.search(text), (
                    f"span {span.name} attribute {key} holds personal data"
                )


def _samples(page: str, name: str) -> list[Any]:
    return [
        sample
        for family in text_string_to_metric_families(page)
        for sample in family.samples
        if sample.name == name
    ]


def test_stage_metrics_scraped_during_the_run_agree_with_the_spans(
    demo_run: tuple[int, Path], index: TraceIndex
) -> None:
    _status, state_dir = demo_run
    sink_page = (state_dir / "metrics" / "odoo-sink.prom").read_text()
    processors_page = (state_dir / "metrics" / "processors.prom").read_text()

    calls = sum(
        s.value
        for s in _samples(sink_page, "pipeline_odoo_call_duration_seconds_count")
    )
    call_spans = [s for s in index.spans.values() if _is_odoo_call(s)]
    assert calls == len(call_spans) > 0

    duplicates = sum(
        s.value for s in _samples(processors_page, "pipeline_duplicates_dropped_total")
    )
    duplicate_spans = [s for s in index.spans.values() if s.outcome == "duplicate"]
    assert duplicates == len(duplicate_spans)

    read_by_dedup = sum(
        s.value
        for s in _samples(processors_page, "pipeline_events_in_total")
        if s.labels["stage"] == "deduplicate"
    )
    assert read_by_dedup >= len(publish_spans(index))
    assert _samples(sink_page, "pipeline_sink_batch_records_count")
    assert _samples(sink_page, "pipeline_consumer_lag")

    # Every applied event was held first (0 s when it arrived late), and the run ends
    # with an empty reorder buffer.
    held = sum(
        s.value
        for s in _samples(processors_page, "pipeline_reorder_hold_seconds_count")
    )
    correlate_spans = [s for s in index.spans.values() if s.name == "correlate"]
    assert held == len(correlate_spans) > 0
    [depth] = _samples(processors_page, "pipeline_reorder_buffer_depth")
    assert depth.value == 0
