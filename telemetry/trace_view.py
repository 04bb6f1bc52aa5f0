"""Reading exported spans back: find one business event's traces and print them as trees.

The spans file holds one JSON object per finished span (``JsonLinesSpanExporter``),
from every process. A query matches a span whose event id, source object id or number,
canonical account id or Odoo external id equals it (an external id also matches by its
name without the module); each matching span's trace is printed, root first, children
in start order, with the offset from the trace's start, the duration and the outcome.

A batch write span lives in a trace of its own, linked to every record span it wrote;
it is printed under each record span it links to, so a record's path reaches its Odoo
calls whether they were made for it alone or for a batch.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from opentelemetry.semconv._incubating.attributes import messaging_attributes as msg

from telemetry.span_attributes import (
    CANONICAL_ACCOUNT_ID,
    EVENT_ID,
    EVENT_TYPE,
    ODOO_EXTERNAL_ID,
    ODOO_METHOD,
    ODOO_MODEL,
    OUTCOME,
    OUTCOME_DETAIL,
    SEARCHABLE_ATTRIBUTES,
    SOURCE_OBJECT_ID,
    SOURCE_SYSTEM,
    WORKFLOW,
)

# Attributes printed after a span's timing, in this order, when present.
SHOWN_ATTRIBUTES = (
    EVENT_TYPE,
    SOURCE_SYSTEM,
    WORKFLOW,
    SOURCE_OBJECT_ID,
    CANONICAL_ACCOUNT_ID,
    msg.MESSAGING_DESTINATION_PARTITION_ID,
    msg.MESSAGING_KAFKA_OFFSET,
    ODOO_MODEL,
    ODOO_EXTERNAL_ID,
    OUTCOME_DETAIL,
)


class SpanFileError(Exception):
    """A line of the spans file is not a span this module can read."""


@dataclass(frozen=True)
class SpanRecord:
    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    service: str
    start: datetime
    end: datetime
    attributes: dict[str, Any]
    links: tuple[str, ...]
    status: str

    @property
    def duration_ms(self) -> float:
        return (self.end - self.start).total_seconds() * 1000

    @property
    def outcome(self) -> str | None:
        value = self.attributes.get(OUTCOME)
        return None if value is None else str(value)


def _hex(value: str | None) -> str | None:
    return None if not value else value.removeprefix("0x")


def parse_span(raw: dict[str, Any]) -> SpanRecord:
    try:
        context = raw["context"]
        return SpanRecord(
            trace_id=_hex(context["trace_id"]) or "",
            span_id=_hex(context["span_id"]) or "",
            parent_id=_hex(raw.get("parent_id")),
            name=raw["name"],
            service=str(
                raw.get("resource", {}).get("attributes", {}).get("service.name", "")
            ),
            start=datetime.fromisoformat(raw["start_time"]),
            end=datetime.fromisoformat(raw["end_time"]),
            attributes=dict(raw.get("attributes") or {}),
            links=tuple(
                _hex(link["context"]["span_id"]) or ""
                for link in raw.get("links") or []
            ),
            status=str((raw.get("status") or {}).get("status_code", "UNSET")),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise SpanFileError(f"span {raw.get('name')!r}: {error}") from error


def load_spans(path: Path) -> list[SpanRecord]:
    """Every span in the file; a line cut short by a crashed writer is skipped."""
    spans = []
    if not Path(path).is_file():
        return spans
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            spans.append(parse_span(json.loads(line)))
        except json.JSONDecodeError:
            continue
    return spans


def is_batch(span: SpanRecord) -> bool:
    """A span written for many records (see ``telemetry.record_spans.batch_span``)."""
    return msg.MESSAGING_BATCH_MESSAGE_COUNT in span.attributes


@dataclass
class TraceIndex:
    """Spans by trace and by id, and the batch spans written for each record span.

    A batch and a record span are tied by a link in either direction: the batch span
    links to the records it was started for, and a record span may link to the batch
    that wrote it (a batch span holds a bounded number of links).
    """

    traces: dict[str, list[SpanRecord]] = field(default_factory=dict)
    spans: dict[str, SpanRecord] = field(default_factory=dict)
    linked_from: dict[str, list[SpanRecord]] = field(default_factory=dict)

    @classmethod
    def of(cls, spans: Iterable[SpanRecord]) -> TraceIndex:
        traces: dict[str, list[SpanRecord]] = defaultdict(list)
        by_id = {}
        for span in spans:
            traces[span.trace_id].append(span)
            by_id[span.span_id] = span
        batches: dict[str, dict[str, SpanRecord]] = defaultdict(dict)
        for span in by_id.values():
            for linked_id in span.links:
                linked = by_id.get(linked_id)
                if is_batch(span):
                    batches[linked_id][span.span_id] = span
                elif linked is not None and is_batch(linked):
                    batches[span.span_id][linked_id] = linked
        for members in traces.values():
            members.sort(key=lambda s: s.start)
        linked_from = {
            span_id: sorted(found.values(), key=lambda s: s.start)
            for span_id, found in batches.items()
        }
        return cls(dict(traces), by_id, linked_from)

    def children(self, span: SpanRecord) -> list[SpanRecord]:
        return [s for s in self.traces[span.trace_id] if s.parent_id == span.span_id]

    def roots(self, trace_id: str) -> list[SpanRecord]:
        """Spans of the trace whose parent is not in it (one, in a connected trace)."""
        members = self.traces.get(trace_id, [])
        ids = {s.span_id for s in members}
        return [s for s in members if s.parent_id is None or s.parent_id not in ids]

    def descendants(self, span: SpanRecord) -> Iterator[SpanRecord]:
        """Every span below ``span``, batch spans linked to it (and theirs) included."""
        for child in [*self.children(span), *self.linked_from.get(span.span_id, [])]:
            yield child
            yield from self.descendants(child)


def matches(span: SpanRecord, query: str) -> bool:
    for name in SEARCHABLE_ATTRIBUTES:
        value = span.attributes.get(name)
        if value is None:
            continue
        text = str(value)
        if text == query:
            return True
        if name == ODOO_EXTERNAL_ID and text.split(".", 1)[-1] == query:
            return True
    return False


def matching_traces(index: TraceIndex, query: str) -> list[str]:
    """Trace ids holding a span that matches ``query``, oldest trace first."""
    found = {s.trace_id for s in index.spans.values() if matches(s, query)}
    if query in index.traces:
        found.add(query)
    # A match in a batch span stands for the record traces it was written for.
    for trace_id in list(found):
        for span in index.traces[trace_id]:
            if not is_batch(span):
                continue
            for record_id, batches in index.linked_from.items():
                if span in batches and record_id in index.spans:
                    found.add(index.spans[record_id].trace_id)
    batch_only = {t for t in found if all(is_batch(s) for s in index.roots(t))}
    return sorted(found - batch_only, key=lambda t: index.traces[t][0].start)


def _describe(span: SpanRecord, trace_start: datetime) -> str:
    offset = (span.start - trace_start).total_seconds() * 1000
    shown = " ".join(
        f"{name}={span.attributes[name]}"
        for name in SHOWN_ATTRIBUTES
        if name in span.attributes
    )
    outcome = f" outcome={span.outcome}" if span.outcome else ""
    error = " ERROR" if span.status == "ERROR" else ""
    text = (
        f"{span.name} [{span.service}] +{offset:.1f}ms {span.duration_ms:.1f}ms"
        f"{outcome}{error}"
    )
    return f"{text}  {shown}" if shown else text


def _batch_lines(
    index: TraceIndex,
    batch: SpanRecord,
    record: SpanRecord,
    depth: int,
    trace_start: datetime,
) -> list[str]:
    """A linked batch span with the Odoo calls on the record's model; others counted."""
    model = record.attributes.get(ODOO_MODEL)
    calls = list(index.descendants(batch))
    own = [c for c in calls if model is None or c.attributes.get(ODOO_MODEL) == model]
    indent = "  " * depth
    lines = [
        f"{indent}~ linked batch (trace {batch.trace_id}): "
        f"{_describe(batch, trace_start)}"
    ]
    lines.extend(f"{indent}  {_describe(call, trace_start)}" for call in own)
    if len(own) < len(calls):
        lines.append(
            f"{indent}  ... {len(calls) - len(own)} more calls of the batch "
            f"on other models"
        )
    return lines


def render_trace(index: TraceIndex, trace_id: str) -> list[str]:
    """The trace as indented lines, one per span, under a one-line header."""
    members = index.traces[trace_id]
    trace_start = members[0].start
    event = next((s for s in members if EVENT_ID in s.attributes), members[0])
    lines = [
        f"trace {trace_id}  event {event.attributes.get(EVENT_ID, '?')} "
        f"({event.attributes.get(EVENT_TYPE, '?')}, "
        f"{event.attributes.get(SOURCE_SYSTEM, '?')})"
    ]

    def walk(span: SpanRecord, depth: int, prefix: str) -> None:
        lines.append("  " * depth + prefix + _describe(span, trace_start))
        for child in index.children(span):
            walk(child, depth + 1, "")
        for batch in index.linked_from.get(span.span_id, []):
            lines.extend(_batch_lines(index, batch, span, depth + 1, trace_start))

    for root in index.roots(trace_id):
        prefix = "" if root.parent_id is None else "(parent not exported) "
        walk(root, 1, prefix)
    return lines


def is_hop(span: SpanRecord) -> bool:
    """A stage's span for a record (an Odoo call span has an outcome of its own)."""
    return span.outcome is not None and ODOO_METHOD not in span.attributes


def final_outcomes(index: TraceIndex, trace_id: str) -> list[str]:
    """The outcome of every last hop of the trace: one per path through the stages."""
    outcomes = []
    for span in index.traces.get(trace_id, []):
        if not is_hop(span):
            continue
        if not any(is_hop(child) for child in index.descendants(span)):
            outcomes.append(str(span.outcome))
    return outcomes
