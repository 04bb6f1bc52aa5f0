"""W3C trace context across the processor stages.

The context of an incoming record comes from its Kafka headers when present (the hop
that wrote it), else from the business event's ``trace_context`` field (the adapter
that produced it). Each stage runs in a span named after it; outgoing records carry the
context of that span, in their headers and in their own ``trace_context``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagate import extract, inject

TRACER_NAME = "processors"
TRACE_HEADERS = ("traceparent", "tracestate")


def carrier_from_headers(headers: Any) -> dict[str, str]:
    """The trace headers of a Kafka record (list of pairs or mapping) as strings."""
    pairs = headers.items() if isinstance(headers, Mapping) else (headers or [])
    carrier = {}
    for name, value in pairs:
        if name in TRACE_HEADERS and value is not None:
            carrier[name] = value.decode() if isinstance(value, bytes) else str(value)
    return carrier


@contextmanager
def stage_span(
    stage: str, headers: Any, trace_context: Mapping[str, str] | None
) -> Iterator[dict[str, str]]:
    """Run the body in a span named ``stage``; yield the context to propagate."""
    carrier = carrier_from_headers(headers) or dict(trace_context or {})
    parent = extract(carrier)
    token = otel_context.attach(parent)
    try:
        tracer = trace.get_tracer(TRACER_NAME)
        with tracer.start_as_current_span(stage):
            outgoing: dict[str, str] = {}
            inject(outgoing)
            yield outgoing
    finally:
        otel_context.detach(token)


def as_headers(trace_context: Mapping[str, str]) -> list[tuple[str, bytes]]:
    return [(name, value.encode()) for name, value in trace_context.items()]
