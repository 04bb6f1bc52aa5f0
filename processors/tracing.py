"""W3C trace context across the processor stages, and what each stage records on it.

The context of an incoming record comes from its Kafka headers when present (the hop
that wrote it), else from the business event's ``trace_context`` field (the adapter
that produced it). Each stage runs in a span named after it; outgoing records carry the
context of that span, in their headers and in their own ``trace_context``.

A stage span carries the consumed record's Kafka messaging attributes and the event's
business attributes (``record_attributes``), and ends with the stage's outcome
(``record_duplicate``, ``record_passed``, ``record_correlation``), which also feed the
pipeline's metrics.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagate import extract, inject
from opentelemetry.semconv._incubating.attributes import messaging_attributes as msg
from opentelemetry.trace import SpanKind

from processors.correlate import ENRICHED, LATE
from processors.reorder_buffer import ARRIVED_LATE, Release
from telemetry import metrics
from telemetry.record_spans import trace_carrier
from telemetry.span_attributes import (
    CANONICAL_ACCOUNT_ID,
    EVENT_TYPE,
    Outcome,
    annotate_current_span,
    business_event_attributes,
    kafka_process_attributes,
    record_outcome,
)

TRACER_NAME = "processors"

# The tracer of the process's provider, made once: asking the provider for a tracer
# builds a new one each time, which is measurable at several spans per record.
_tracer_of_provider: list[tuple[trace.TracerProvider, trace.Tracer]] = []


def _tracer() -> trace.Tracer:
    provider = trace.get_tracer_provider()
    if not _tracer_of_provider or _tracer_of_provider[0][0] is not provider:
        _tracer_of_provider[:] = [(provider, provider.get_tracer(TRACER_NAME))]
    return _tracer_of_provider[0][1]


TRACE_HEADERS = ("traceparent", "tracestate")


def carrier_from_headers(headers: Any) -> dict[str, str]:
    """The trace headers of a Kafka record (list of pairs or mapping) as strings."""
    return trace_carrier(headers)


def record_attributes(
    message: Any, event: Mapping[str, Any], consumer_group: str
) -> dict[str, Any]:
    """Span attributes of one consumed record: where it came from and what it is."""
    return {
        **kafka_process_attributes(
            message.topic,
            message.partition,
            message.offset,
            message.key,
            consumer_group,
        ),
        **business_event_attributes(event),
    }


@contextmanager
def stage_span(
    stage: str,
    headers: Any,
    trace_context: Mapping[str, str] | None,
    attributes: Mapping[str, Any] | None = None,
) -> Iterator[dict[str, str]]:
    """Run the body in a span named ``stage``; yield the context to propagate.

    With ``attributes`` (``record_attributes``) the record also counts as read by the
    stage in ``pipeline_events_in``.
    """
    carrier = trace_carrier(headers, trace_context)
    parent = extract(carrier)
    token = otel_context.attach(parent)
    try:
        with _tracer().start_as_current_span(
            stage, kind=SpanKind.CONSUMER, attributes=attributes
        ):
            if attributes:
                metrics.count_event_in(
                    stage,
                    str(attributes.get(msg.MESSAGING_DESTINATION_NAME)),
                    str(attributes.get(EVENT_TYPE)),
                )
            outgoing: dict[str, str] = {}
            inject(outgoing)
            yield outgoing
    finally:
        otel_context.detach(token)


def record_duplicate(event: Mapping[str, Any]) -> None:
    """Deduplicate dropped the event: the end of its path."""
    record_outcome(Outcome.DUPLICATE)
    metrics.count_duplicate(str(event.get("source_system")))


def record_passed(event: Mapping[str, Any], topic: str) -> None:
    """Deduplicate passed the event on to ``topic``."""
    record_outcome(Outcome.PASSED)
    metrics.count_event_out("deduplicate", topic, str(event.get("event_type")))


def record_correlation(
    event: Mapping[str, Any],
    outputs: Sequence[tuple[str, str, Mapping[str, Any]]],
    enriched_topic: str,
) -> None:
    """What correlate made of the event: enriched records, a late notice, or nothing."""
    enriched = [(key, value) for role, key, value in outputs if role == ENRICHED]
    late = any(role == LATE for role, _key, _value in outputs)
    for _key, value in enriched:
        metrics.count_event_out(
            "correlate", enriched_topic, str(value.get("event_type"))
        )
    if enriched:
        accounts = sorted({key for key, _value in enriched})
        annotate_current_span(
            {
                CANONICAL_ACCOUNT_ID: accounts[0],
                "account.canonical_ids": ",".join(accounts),
                "pipeline.records_out": len(enriched),
                "record.kinds": ",".join(
                    sorted({str(value.get("record_kind")) for _k, value in enriched})
                ),
            }
        )
        record_outcome(Outcome.ENRICHED)
    elif late:
        metrics.count_late(str(event.get("source_system")))
        record_outcome(Outcome.LATE)
    else:
        record_outcome(Outcome.NO_CHANGE)


def release_attributes(
    topic: str,
    offset: int,
    event: Mapping[str, Any],
    consumer_group: str,
    release: Release,
) -> dict[str, Any]:
    """Span attributes of applying a held event: the record that brought it (partition
    0 of the one-partition input) and how long the reorder buffer held it."""
    return {
        **kafka_process_attributes(
            topic, 0, offset, str(event.get("account_key") or ""), consumer_group
        ),
        **business_event_attributes(event),
        "pipeline.reorder.release_cause": release.cause,
        "pipeline.reorder.held_ms": release.held_for // 1000,
    }


def record_hold(admitted: bool) -> None:
    """The reorder stage held the event, or passed it on at once as arrived late."""
    record_outcome(Outcome.PASSED, "held" if admitted else ARRIVED_LATE)


def record_release(release: Release) -> None:
    """Count how long the event waited before correlate applied it."""
    metrics.observe_reorder_hold(release.held_for / 1_000_000)


def as_headers(trace_context: Mapping[str, str]) -> list[tuple[str, bytes]]:
    return [(name, value.encode()) for name, value in trace_context.items()]
