"""The webhook endpoint: signed POSTs from billing, product and helpdesk senders.

A request is judged exactly like a file line (same validation and mapping), published,
and answered only after Kafka acknowledged it:

* 200 the event is on its source topic;
* 400 ``{"reason": ...}`` the input was refused and is on the dead-letter topic;
* 401 the signature is missing, stale or wrong (nothing is published, but the refusal is
  counted in ``pipeline_rejects_total`` with the reason the answer gives);
* 413 the body exceeds the line limit (counted in ``pipeline_rejects_total`` as
  ``oversized_payload``, not dead-lettered: it was not read whole);
* 503 Kafka did not acknowledge in time, so the sender retries (its retry is then a
  duplicate the processors drop by event id).
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from opentelemetry.propagate import extract
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from pipeline.health import Readiness, health_routes, kafka_check
from pipeline.settings import Settings
from producers.business_event import Delivery
from producers.exceptions import PublishError
from producers.intake import judge_json_line
from producers.outcomes import AcceptedEvent
from producers.publisher import EventPublisher
from producers.sources import WEBHOOK_SOURCES, JsonSource
from producers.validation import OVERSIZED_PAYLOAD
from producers.webhook_signature import SIGNATURE_HEADER, signature_problem
from telemetry.metrics import count_reject

logger = logging.getLogger(__name__)

WEBHOOK_CHANNEL = "webhook"
# Reasons of a 401, in the answer and as the reject counter's label. One reason for every
# signature problem: the answer must not tell a forger which check failed.
UNAUTHENTICATED = "unauthenticated"
BAD_SIGNATURE = "bad_signature"
ACK_TIMEOUT_SECONDS = 10.0


class _BodyTooLarge(Exception):
    pass


async def _read_capped_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def build_webhook_app(
    settings: Settings,
    publisher: EventPublisher,
    clock: Callable[[], float] = time.time,
    ack_timeout: float = ACK_TIMEOUT_SECONDS,
) -> Starlette:
    """A Starlette app with ``POST /webhooks/{billing,product,helpdesk}`` and the
    ``GET /health/live``, ``/health/ready`` probes (``pipeline.health``)."""
    positions = itertools.count(1)
    max_bytes = settings.ingest.max_line_bytes

    def endpoint(route_name: str, source: JsonSource) -> Callable:
        path = f"/webhooks/{route_name}"
        secret = settings.ingest.webhook_secrets.get(route_name)

        async def receive(request: Request) -> JSONResponse:
            # 1. read at most the line limit
            try:
                body = await _read_capped_body(request, max_bytes)
            except _BodyTooLarge:
                # Refused before it was read whole: counted, not dead-lettered.
                logger.warning(
                    "webhook body over the line limit refused",
                    extra={"source_name": path, "max_bytes": max_bytes},
                )
                count_reject(path, OVERSIZED_PAYLOAD)
                return JSONResponse({"reason": OVERSIZED_PAYLOAD}, status_code=413)

            # 2. authenticate the sender
            if secret is None:
                logger.warning(
                    "no webhook secret configured; request refused",
                    extra={"source_name": path},
                )
                count_reject(path, UNAUTHENTICATED)
                return JSONResponse({"reason": UNAUTHENTICATED}, status_code=401)
            problem = signature_problem(
                request.headers.get(SIGNATURE_HEADER),
                secret.get_secret_value().encode(),
                body,
                clock(),
            )
            if problem:
                logger.warning(
                    "webhook refused", extra={"source_name": path, "problem": problem}
                )
                count_reject(path, BAD_SIGNATURE)
                return JSONResponse({"reason": BAD_SIGNATURE}, status_code=401)

            # 3. judge it like a file line
            delivery = Delivery(WEBHOOK_CHANNEL, path, next(positions))
            received_at = datetime.now(tz=UTC)
            outcome = judge_json_line(body, source, delivery, received_at, max_bytes)

            # 4. publish and wait for the broker
            try:
                if isinstance(outcome, AcceptedEvent):
                    ticket = publisher.publish_event(
                        outcome.source_system,
                        outcome.key,
                        outcome.event,
                        parent_context=extract(dict(request.headers)),
                    )
                    await publisher.acknowledged(ticket, ack_timeout)
                    return JSONResponse({"event_id": outcome.event["event_id"]})
                ticket = publisher.publish_rejection(outcome.record)
                await publisher.acknowledged(ticket, ack_timeout)
            except PublishError as exc:
                logger.error(
                    "webhook not acknowledged by Kafka; sender must retry",
                    extra={"source_name": path, "error": str(exc)},
                )
                return JSONResponse({"reason": "unavailable"}, status_code=503)
            return JSONResponse({"reason": outcome.reason}, status_code=400)

        return Route(path, receive, methods=["POST"])

    routes = [endpoint(name, source) for name, source in WEBHOOK_SOURCES.items()]
    routes += health_routes(Readiness({"kafka": kafka_check(settings.kafka)}))
    return Starlette(routes=routes)
