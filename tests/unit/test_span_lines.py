"""The spans file holds exactly what the SDK's ``to_json`` says of each span."""

from __future__ import annotations

import json

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace import Link, Status, StatusCode

from telemetry.tracing import JsonLinesSpanExporter, span_line


class _Keep(SpanExporter):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def export(self, spans: list[ReadableSpan]) -> SpanExportResult:  # type: ignore[override]
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS


def _finished_spans() -> list[ReadableSpan]:
    keep = _Keep()
    provider = TracerProvider(
        resource=Resource.create({"service.name": "processors", "host.arch": "x"})
    )
    provider.add_span_processor(SimpleSpanProcessor(keep))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("root") as root:
        root.set_attribute("messaging.kafka.offset", 17)
    with tracer.start_as_current_span(
        "deduplicate",
        kind=trace.SpanKind.CONSUMER,
        links=[Link(root.get_span_context(), {"pipeline.link": "batch"})],
        attributes={"pipeline.ids": ("a", "b"), "pipeline.ratio": 0.5},
    ) as span:
        span.add_event("retry", {"attempt": 2})
        with tracer.start_as_current_span("child") as child:
            child.set_status(Status(StatusCode.ERROR, "odoo refused"))
    unfinished = tracer.start_span("never ended")
    keep.spans.append(unfinished)  # type: ignore[arg-type]
    return keep.spans


def test_each_line_equals_the_sdk_json_of_the_span() -> None:
    spans = _finished_spans()
    assert len(spans) == 4
    for span in spans:
        ours = json.loads(span_line(span))
        assert ours == json.loads(span.to_json(indent=None)), span.name
        assert "\n" not in span_line(span)


def test_the_exporter_appends_one_line_per_span(tmp_path) -> None:
    spans = _finished_spans()
    path = tmp_path / "spans.jsonl"
    exporter = JsonLinesSpanExporter(path)
    exporter.export(spans[:2])
    exporter.export(spans[2:])
    lines = path.read_text().splitlines()
    assert [json.loads(line)["name"] for line in lines] == [s.name for s in spans]
    child = next(json.loads(line) for line in lines if '"child"' in line)
    assert child["status"] == {
        "status_code": "ERROR",
        "description": "odoo refused",
    }
