"""An ``OdooClient`` that puts every Odoo RPC in a client span and times it.

It wraps either protocol's client: every ORM helper of ``OdooClient`` (search, create,
write...) goes through ``execute``, so one place sees every HTTP call. The span is a
child of whatever span is current (the sink's record span, or its batch span) and
carries ``odoo.model``, ``odoo.method``, the server address and the call's outcome; the
duration also feeds ``pipeline_odoo_call_duration_seconds``.

Chosen over HTTP-level instrumentation because the Odoo model and method are what an
operator needs, and the request body (which holds them for JSON-RPC) is not read here.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from sinks.odoo.client import MethodCall, OdooClient, OdooError, OdooTransientError
from telemetry.metrics import observe_odoo_call
from telemetry.redaction import safe_attributes
from telemetry.span_attributes import ODOO_METHOD, ODOO_MODEL, OUTCOME

TRACER_NAME = "sinks.odoo"

CALL_OK = "ok"
CALL_TRANSIENT_ERROR = "transient_error"
CALL_PERMANENT_ERROR = "permanent_error"


class TracedOdooClient(OdooClient):
    """Delegates every call to ``inner`` inside an ``odoo <model>.<method>`` span."""

    def __init__(
        self,
        inner: OdooClient,
        url: str,
        tracer_provider: trace.TracerProvider | None = None,
    ) -> None:
        self._inner = inner
        address = urlsplit(url)
        self._server = {
            "server.address": address.hostname or "",
            "server.port": address.port or (443 if address.scheme == "https" else 80),
        }
        provider = tracer_provider or trace.get_tracer_provider()
        self._tracer = provider.get_tracer(TRACER_NAME)

    def execute(self, call: MethodCall) -> Any:
        with self._call_span(call.model, call.method):
            return self._inner.execute(call)

    def call(self, model: str, method: str, *args: Any, **kwargs: Any) -> Any:
        with self._call_span(model, method):
            return self._inner.call(model, method, *args, **kwargs)

    def close(self) -> None:
        self._inner.close()

    @contextmanager
    def _call_span(self, model: str, method: str) -> Iterator[None]:
        attributes = {
            ODOO_MODEL: model,
            ODOO_METHOD: method,
            "rpc.system": "odoo",
            "rpc.method": f"{model}.{method}",
            **self._server,
        }
        started = time.perf_counter()
        outcome = CALL_OK
        with self._tracer.start_as_current_span(
            f"odoo {model}.{method}",
            kind=SpanKind.CLIENT,
            attributes=safe_attributes(attributes),
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                yield
            except OdooError as error:
                outcome = (
                    CALL_TRANSIENT_ERROR
                    if isinstance(error, OdooTransientError)
                    else CALL_PERMANENT_ERROR
                )
                # The error's message may quote record values: only its class goes
                # on the span.
                span.set_attribute("error.type", type(error).__name__)
                span.set_status(Status(StatusCode.ERROR, type(error).__name__))
                raise
            finally:
                span.set_attribute(OUTCOME, outcome)
                observe_odoo_call(model, method, outcome, time.perf_counter() - started)
