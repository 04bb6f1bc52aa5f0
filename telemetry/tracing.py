"""OpenTelemetry tracing set-up shared by every process.

Production exports with OTLP when the standard ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or the
traces-specific variable) is set. The embedded default appends finished spans as JSON
lines to a local file (``PIPELINE_TRACING__SPANS_FILE``), which the trace command reads to
print one business event's path through every hop.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path

from opentelemetry import trace
from opentelemetry.sdk import util as sdk_util
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SpanExporter,
    SpanExportResult,
)

_configured = False

# A batch write links to every record it covers; the SDK's default of 128 links would
# cut a 200-record sink batch short. ``OTEL_SPAN_LINK_COUNT_LIMIT`` still wins.
DEFAULT_MAX_LINKS = 1024


class JsonLinesSpanExporter(SpanExporter):
    """Appends each finished span as one JSON line (safe across processes: O_APPEND)."""

    def __init__(self, path: Path) -> None:
        self._path = Path(path)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = "".join(span_line(span) + "\n" for span in spans)
        with self._lock, self._path.open("a", encoding="utf-8") as handle:
            handle.write(lines)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


def span_line(span: ReadableSpan) -> str:
    """The span as the SDK's own ``to_json`` gives it, on one line.

    Written out here because ``to_json`` turns the process's resource into JSON text and
    back for every span; a worker writes several spans per record, and this is about
    three times faster. The fields and their formats are the SDK's (a unit test holds
    the two equal).
    """
    return json.dumps(
        {
            "name": span.name,
            "context": _context_fields(span.context) if span.context else None,
            "kind": str(span.kind),
            "parent_id": (
                f"0x{trace.format_span_id(span.parent.span_id)}"
                if span.parent is not None
                else None
            ),
            "start_time": _iso_time(span.start_time),
            "end_time": _iso_time(span.end_time),
            "status": _status_fields(span),
            "attributes": _plain(span.attributes),
            "events": [
                {
                    "name": event.name,
                    "timestamp": sdk_util.ns_to_iso_str(event.timestamp),
                    "attributes": _plain(event.attributes),
                }
                for event in span.events
            ],
            "links": [
                {
                    "context": _context_fields(link.context),
                    "attributes": _plain(link.attributes),
                }
                for link in span.links
            ],
            "resource": _resource_fields(span.resource),
        }
    )


def _context_fields(context: trace.SpanContext) -> dict[str, str]:
    return {
        "trace_id": f"0x{trace.format_trace_id(context.trace_id)}",
        "span_id": f"0x{trace.format_span_id(context.span_id)}",
        "trace_state": repr(context.trace_state),
    }


def _iso_time(nanoseconds: int | None) -> str | None:
    return sdk_util.ns_to_iso_str(nanoseconds) if nanoseconds else None


def _status_fields(span: ReadableSpan) -> dict[str, str]:
    status = {"status_code": span.status.status_code.name}
    if span.status.description:
        status["description"] = span.status.description
    return status


def _plain(attributes: object) -> object:
    if attributes is not None and not isinstance(attributes, dict):
        return dict(attributes)  # type: ignore[call-overload]
    return attributes


# A process has one resource; its JSON form is made once.
_resource_cache: dict[int, tuple[Resource, object]] = {}


def _resource_fields(resource: Resource) -> object:
    cached = _resource_cache.get(id(resource))
    if cached is None or cached[0] is not resource:
        cached = (resource, json.loads(resource.to_json()))
        _resource_cache[id(resource)] = cached
    return cached[1]


def _otlp_exporter() -> SpanExporter | None:
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    if not endpoint:
        return None
    protocol = os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter,
        )
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter,
        )
    return OTLPSpanExporter()


def build_tracer_provider(service_name: str, spans_file: Path | None) -> TracerProvider:
    """A provider exporting with OTLP when configured, else to ``spans_file``.

    For code that must not touch the process-wide provider (a job that runs a stage
    in-process next to others, tests); ``provider.shutdown()`` flushes its spans.
    """
    max_links = int(os.environ.get("OTEL_SPAN_LINK_COUNT_LIMIT", DEFAULT_MAX_LINKS))
    provider = TracerProvider(
        resource=Resource.create({"service.name": service_name}),
        span_limits=SpanLimits(max_links=max_links),
    )
    exporter = _otlp_exporter()
    if exporter is None and spans_file is not None:
        exporter = JsonLinesSpanExporter(spans_file)
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def configure_tracing(service_name: str, spans_file: Path | None) -> None:
    """Install the global tracer provider once per process."""
    global _configured
    if _configured:
        return
    trace.set_tracer_provider(build_tracer_provider(service_name, spans_file))
    _configured = True


def shutdown_tracing() -> None:
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.shutdown()


def read_spans(path: Path) -> list[dict]:
    if not Path(path).is_file():
        return []
    return [
        json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()
    ]
