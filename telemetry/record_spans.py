"""Spans for consumed Kafka records, one per record, and for writes that span a batch.

A consumed record's span continues the trace its producer started: the parent comes
from the record's ``traceparent``/``tracestate`` headers, else from the ``trace_context``
field the record carries. A write that covers many records at once (one Odoo call for a
whole segment) cannot have every record's span as its parent, so it gets its own span
with a link to each record's span context; ``pipeline trace`` follows those links from
any record of the batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.propagate import extract
from opentelemetry.semconv._incubating.attributes import messaging_attributes as msg
from opentelemetry.trace import Link, Span, SpanContext, SpanKind

from telemetry.redaction import safe_attributes

TRACE_HEADERS = ("traceparent", "tracestate")


def trace_carrier(
    headers: Any, trace_context: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The W3C trace fields of a record: its headers first, else ``trace_context``.

    ``headers`` may be a list of (name, value) pairs (confluent-kafka, aiokafka) or a
    mapping (Faust); values may be bytes or text.
    """
    pairs = headers.items() if isinstance(headers, Mapping) else (headers or [])
    carrier: dict[str, str] = {}
    for name, value in pairs:
        if name in TRACE_HEADERS and value is not None:
            carrier[name] = value.decode() if isinstance(value, bytes) else str(value)
    return carrier or dict(trace_context or {})


def record_parent(
    headers: Any, trace_context: Mapping[str, str] | None = None
) -> Context:
    """The context a span processing this record continues."""
    return extract(trace_carrier(headers, trace_context))


def record_span_context(
    headers: Any, trace_context: Mapping[str, str] | None = None
) -> SpanContext | None:
    """The producer's span context of a record, or None when it carries none."""
    span_context = trace.get_current_span(
        record_parent(headers, trace_context)
    ).get_span_context()
    return span_context if span_context.is_valid else None


@contextmanager
def batch_span(
    tracer: trace.Tracer,
    name: str,
    record_contexts: Iterable[SpanContext | None],
    attributes: Mapping[str, Any] | None = None,
) -> Iterator[Span]:
    """A span for one operation over many records, linked to each record's span.

    ``record_contexts`` are the span contexts of the records' own spans (the sink's
    per-record spans, or ``record_span_context`` of each record); missing ones are
    skipped. The span starts a trace of its own: a batch has no single parent.
    """
    links = [Link(context) for context in record_contexts if context is not None]
    batch_attributes = {
        msg.MESSAGING_BATCH_MESSAGE_COUNT: len(links),
        **(attributes or {}),
    }
    with tracer.start_as_current_span(
        name,
        context=Context(),
        kind=SpanKind.INTERNAL,
        links=links,
        attributes=safe_attributes(batch_attributes),
    ) as span:
        yield span


def link_records_to_batch(record_spans: Iterable[Span], batch: Span) -> None:
    """Link each still-open record span back to the batch that wrote it.

    The batch span's own links are capped by the SDK's span limits; a link on each
    record span keeps every record's path to its Odoo calls whatever the batch size.
    """
    batch_context = batch.get_span_context()
    for record_span in record_spans:
        record_span.add_link(batch_context)
