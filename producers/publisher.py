"""Publishing business events and rejections to Kafka with checked delivery.

Every record is produced with a delivery callback; a record counts as published only
when the broker acknowledged it (``acks=all``, idempotent producer). ``flush`` raises
``PublishError`` if any record was refused or is still unacknowledged, so a caller never
reports success for data that is not on the topic.

Each business event gets its own OpenTelemetry span (tracer ``producers``). The span's
W3C ``traceparent``/``tracestate`` go into the event's ``trace_context`` and into the
Kafka record headers, so consumers can continue the trace from either.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, Message, Producer
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.propagate import inject
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind

from eventbus import AvroCodec, Topics
from eventbus.kafka_config import producer_config
from pipeline.settings import Settings
from producers.exceptions import PublishError
from producers.publish_verifier import PublishedRecord, publish_until_verified
from telemetry.metrics import count_event_out, count_reject
from telemetry.span_attributes import business_event_attributes, kafka_send_attributes

logger = logging.getLogger(__name__)

TRACER_NAME = "producers"
CLIENT_ID = "producers"
BUSINESS_EVENT_SUBJECT = "BusinessEvent"
REJECTED_INPUT_SUBJECT = "RejectedInput"


@dataclass
class DeliveryTicket:
    """The broker's answer for one produced record, filled in by the delivery callback."""

    topic: str
    key: str
    done: bool = False
    error: str | None = None
    partition: int | None = None
    offset: int | None = None
    # Kept until the record is verified, so it can be published again if missing.
    value: bytes = b""
    headers: list[tuple[str, bytes]] = field(default_factory=list)

    @property
    def acknowledged(self) -> bool:
        return self.done and self.error is None

    def record_delivery(self, error: KafkaError | None, message: Message) -> None:
        self.done = True
        if error is not None:
            self.error = error.str()
            return
        self.partition = message.partition()
        self.offset = message.offset()


@dataclass(frozen=True)
class PublishCounts:
    acknowledged: int
    failed: int


@dataclass
class _Window:
    """Records produced since the last flush."""

    tickets: list[DeliveryTicket] = field(default_factory=list)


def _tracer_provider() -> trace.TracerProvider:
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        return provider
    # Without an SDK provider the API hands out non-recording spans with invalid ids and
    # nothing would be propagated. A private provider still mints real trace ids; its
    # spans are simply not exported until the process configures tracing.
    logger.info("no tracing configured; trace ids are generated but spans not exported")
    return TracerProvider()


def _published(ticket: DeliveryTicket) -> PublishedRecord:
    """The ticket as a record to verify; offset -1 when the broker reported none."""
    return PublishedRecord(
        ticket.topic,
        ticket.partition if ticket.partition is not None else -1,
        ticket.offset if ticket.offset is not None else -1,
        ticket.key.encode(),
        ticket.value,
        ticket.headers,
    )


class EventPublisher:
    """Produces BusinessEvent and RejectedInput records to the pipeline's topics."""

    def __init__(
        self,
        settings: Settings,
        producer: Producer | None = None,
        codec: AvroCodec | None = None,
        tracer_provider: trace.TracerProvider | None = None,
    ) -> None:
        self._producer = producer or Producer(
            producer_config(settings.kafka, CLIENT_ID)
        )
        self._codec = codec or AvroCodec(settings.kafka.schema_registry_url)
        self._kafka = settings.kafka
        self._topics = Topics(settings.kafka.topic_prefix)
        provider = tracer_provider or _tracer_provider()
        self._tracer = provider.get_tracer(TRACER_NAME)
        self._window = _Window()

    def publish_event(
        self,
        source_system: str,
        key: str,
        event: dict[str, Any],
        parent_context: Context | None = None,
    ) -> DeliveryTicket:
        """Produce ``event`` to the source topic; its trace context is filled in here."""
        topic = self._topics.source_topic(source_system)
        with self._tracer.start_as_current_span(
            f"{topic} publish",
            context=parent_context,
            kind=SpanKind.PRODUCER,
            attributes={
                **kafka_send_attributes(topic, key),
                **business_event_attributes(event),
            },
        ):
            carrier: dict[str, str] = {}
            inject(carrier)
            traced = {**event, "trace_context": carrier}
            value = self._codec.encode(BUSINESS_EVENT_SUBJECT, traced)
            headers = [(name, text.encode()) for name, text in carrier.items()]
            count_event_out(TRACER_NAME, topic, str(event.get("event_type")))
            return self._produce(topic, key, value, headers)

    def publish_rejection(self, record: dict[str, Any]) -> DeliveryTicket:
        """Produce a RejectedInput to the ingest dead-letter topic, keyed by source name."""
        topic = self._topics.ingest_deadletter
        value = self._codec.encode(REJECTED_INPUT_SUBJECT, record)
        count_reject(str(record["source_name"]), str(record.get("reason")))
        return self._produce(topic, str(record["source_name"]), value, [])

    def _produce(
        self, topic: str, key: str, value: bytes, headers: list[tuple[str, bytes]]
    ) -> DeliveryTicket:
        ticket = DeliveryTicket(topic, key, value=value, headers=headers)
        while True:
            try:
                self._producer.produce(
                    topic,
                    value=value,
                    key=key.encode(),
                    headers=headers,
                    on_delivery=ticket.record_delivery,
                )
                break
            except BufferError:
                # The local queue is full: serve delivery reports to make room.
                self._producer.poll(0.5)
        self._window.tickets.append(ticket)
        return ticket

    def poll(self, timeout: float = 0.0) -> None:
        """Serve delivery callbacks that are ready (call now and then while producing)."""
        self._producer.poll(timeout)

    def flush(self, timeout: float = 60.0) -> PublishCounts:
        """Wait for every record produced since the last flush to be acknowledged.

        Raises PublishError naming the count and the first failure when any record was
        refused or not acknowledged within ``timeout`` seconds.
        """
        self._producer.flush(timeout)
        tickets, self._window = self._window.tickets, _Window()
        failed = [t for t in tickets if not t.acknowledged]
        counts = PublishCounts(len(tickets) - len(failed), len(failed))
        if failed:
            first = failed[0]
            reason = first.error or f"no acknowledgement within {timeout:g}s"
            raise PublishError(
                f"{len(failed)} of {len(tickets)} records not acknowledged; first: "
                f"topic {first.topic} key {first.key}: {reason}"
            )
        return counts

    def flush_verified(self, timeout: float = 60.0) -> tuple[PublishCounts, int]:
        """``flush``, then read every acknowledged record back from the broker and
        publish again any that is not at its acknowledged offset (see
        ``producers.publish_verifier``). Returns the counts and how many records had
        to be published again."""
        tickets = list(self._window.tickets)
        counts = self.flush(timeout)
        try:
            republished = publish_until_verified(
                self._kafka, self._with_offsets(tickets), self._publish_again
            )
        except Exception:  # noqa: BLE001 - the check is a safety net, never a stop
            # Every record was acknowledged; only the read-back failed. Say so loudly
            # and go on, rather than abandon an ingest the broker accepted.
            logger.exception(
                "could not verify acknowledged records by reading them back",
                extra={"records": len(tickets)},
            )
            republished = 0
        return counts, republished

    def _publish_again(self, records: list[PublishedRecord]) -> list[PublishedRecord]:
        tickets = [
            self._produce(r.topic, r.key.decode(), r.value, r.headers) for r in records
        ]
        self.flush()
        return self._with_offsets(tickets)

    def _with_offsets(
        self, tickets: list[DeliveryTicket], attempts: int = 3
    ) -> list[PublishedRecord]:
        """Records to verify by offset. A success report without an offset (the
        broker's answer to a retried batch it judged a duplicate) cannot be checked,
        so that record is published again until its report carries one."""
        records = [_published(t) for t in tickets]
        for _ in range(attempts):
            unknown = [r for r in records if r.offset < 0]
            if not unknown:
                return records
            logger.warning(
                "acknowledged without an offset; publishing again to verify",
                extra={"records": len(unknown)},
            )
            again = [
                self._produce(r.topic, r.key.decode(), r.value, r.headers)
                for r in unknown
            ]
            self.flush()
            records = [r for r in records if r.offset >= 0] + [
                _published(t) for t in again
            ]
        return [r for r in records if r.offset >= 0]

    def wait_acknowledged(self, ticket: DeliveryTicket, timeout: float) -> None:
        """Block until the broker answered for ``ticket``; PublishError if it refused."""
        deadline = time.monotonic() + timeout
        while not ticket.done and time.monotonic() < deadline:
            self._producer.poll(min(0.05, max(deadline - time.monotonic(), 0)))
        self._raise_unless_acknowledged(ticket, timeout)

    async def acknowledged(
        self, ticket: DeliveryTicket, timeout: float, interval: float = 0.005
    ) -> None:
        """Async variant of ``wait_acknowledged`` that never blocks the event loop."""
        deadline = time.monotonic() + timeout
        while True:
            self._producer.poll(0)
            if ticket.done or time.monotonic() >= deadline:
                break
            await asyncio.sleep(interval)
        self._raise_unless_acknowledged(ticket, timeout)

    @staticmethod
    def _raise_unless_acknowledged(ticket: DeliveryTicket, timeout: float) -> None:
        if ticket.acknowledged:
            return
        reason = ticket.error or f"no acknowledgement within {timeout:g}s"
        raise PublishError(
            f"record for topic {ticket.topic} key {ticket.key}: {reason}"
        )

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what is still queued; records left over are logged, not raised."""
        remaining = self._producer.flush(timeout)
        if remaining:
            logger.warning(
                "producer closed with unacknowledged records; they may be lost",
                extra={"unacknowledged": remaining},
            )
