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
        lines = "".join(span.to_json(indent=None) + "\n" for span in spans)
        with self._lock, self._path.open("a", encoding="utf-8") as handle:
            handle.write(lines)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


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
