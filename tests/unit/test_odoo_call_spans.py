"""Every Odoo RPC made through the sink's client is a child span with model and method."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import SpanKind, StatusCode

from sinks.odoo.client import (
    MethodCall,
    OdooClient,
    OdooTransientError,
    OdooValidationError,
)
from sinks.odoo.traced_client import TracedOdooClient


class ScriptedClient(OdooClient):
    """Answers every call with ``answer``, or raises ``error``."""

    def __init__(self, answer: Any = None, error: Exception | None = None) -> None:
        self.answer = answer
        self.error = error
        self.calls: list[MethodCall] = []

    def execute(self, call: MethodCall) -> Any:
        self.calls.append(call)
        if self.error is not None:
            raise self.error
        return self.answer

    def call(self, model: str, method: str, *args: Any, **kwargs: Any) -> Any:
        return self.execute(MethodCall(model, method))

    def close(self) -> None:
        return None


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


def _client(
    exporter: InMemorySpanExporter, inner: ScriptedClient
) -> tuple[TracedOdooClient, TracerProvider]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    client = TracedOdooClient(inner, "http://127.0.0.1:8069", tracer_provider=provider)
    return client, provider


def test_a_call_is_a_client_span_under_the_current_span(
    exporter: InMemorySpanExporter,
) -> None:
    inner = ScriptedClient(answer=[7])
    client, provider = _client(exporter, inner)

    with provider.get_tracer("test").start_as_current_span("record") as record:
        ids = client.create("account.move", [{"name": "x"}])

    assert ids == [7]
    call_span, record_span = exporter.get_finished_spans()
    assert call_span.name == "odoo account.move.create"
    assert call_span.kind is SpanKind.CLIENT
    assert call_span.parent.span_id == record.get_span_context().span_id
    assert record_span.name == "record"
    assert call_span.attributes["odoo.model"] == "account.move"
    assert call_span.attributes["odoo.method"] == "create"
    assert call_span.attributes["server.address"] == "127.0.0.1"
    assert call_span.attributes["outcome"] == "ok"


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (OdooTransientError("busy", model="res.partner"), "transient_error"),
        (OdooValidationError("bad value x@y.example"), "permanent_error"),
    ],
)
def test_a_failed_call_records_the_error_class_only(
    exporter: InMemorySpanExporter, error: Exception, outcome: str
) -> None:
    client, _provider = _client(exporter, ScriptedClient(error=error))

    with pytest.raises(type(error)):
        client.write("res.partner", [1], {"email": "x@y.example"})

    [span] = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == type(error).__name__
    assert span.attributes["outcome"] == outcome
    assert span.attributes["error.type"] == type(error).__name__
    assert "x@y.example" not in str(dict(span.attributes))
    assert not span.events
