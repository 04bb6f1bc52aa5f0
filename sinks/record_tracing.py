"""The sink's spans and metrics: one span per consumed record, one per batch write.

Per poll the consumer:

1. ``start_record_traces(records, ...)`` starts a ``process enriched.accounts`` span per
   record, continuing the trace from the record's headers (the correlate span). The
   spans are not made current: many are open at once;
2. runs the writes inside ``writes_for(traces)``: for one record, its own span is
   current, so every Odoo call span is its child; for several, a ``sink batch write``
   span linked to every record's span is current, and the Odoo calls are its children;
3. ``finish_record_traces(traces, results)`` sets each record's outcome, business
   attributes, counts it and ends its span. Records without a result (the batch
   stopped on an Odoo outage) end with ``retry_later``.

A record span's business attributes (event, workflow, canonical account) come from the
decoded record (``describe_records``, given the consumer's decoder): a second decode of
a few hundred small Avro records per poll costs far less than the Odoo calls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Message, TopicPartition
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from telemetry import metrics
from telemetry.record_spans import batch_span, link_records_to_batch, record_parent
from telemetry.redaction import safe_attributes
from telemetry.span_attributes import (
    CANONICAL_ACCOUNT_ID,
    ODOO_EXTERNAL_ID,
    ODOO_MODEL,
    OUTCOME,
    OUTCOME_DETAIL,
    SOURCE_OBJECT_ID,
    WORKFLOW,
    Outcome,
    enriched_record_attributes,
    kafka_process_attributes,
)

TRACER_NAME = "sinks"
STAGE = "odoo-sink"

# Write actions (``sinks.odoo_writer.WriteAction`` values) by the outcome they mean.
OUTCOME_BY_ACTION = {
    "created": Outcome.WRITTEN,
    "updated": Outcome.WRITTEN,
    "merged": Outcome.WRITTEN,
    "skipped_stale": Outcome.SKIPPED_STALE,
    "unchanged": Outcome.SKIPPED_STALE,
    "skipped_not_owner": Outcome.SKIPPED_BY_OWNERSHIP,
}


@dataclass
class RecordTrace:
    """The open span of one consumed record and what is known about the record."""

    span: Span
    topic: str
    attributes: dict[str, Any] = field(default_factory=dict)


def start_record_traces(
    records: Sequence[Message], consumer_group: str
) -> list[RecordTrace]:
    tracer = trace.get_tracer(TRACER_NAME)
    traces = []
    for message in records:
        topic = message.topic() or ""
        span = tracer.start_span(
            f"process {topic}",
            context=record_parent(message.headers()),
            kind=SpanKind.CONSUMER,
            attributes=kafka_process_attributes(
                topic,
                message.partition(),
                message.offset(),
                message.key(),
                consumer_group,
            ),
        )
        traces.append(RecordTrace(span, topic))
    return traces


def describe_records(
    traces: Sequence[RecordTrace],
    records: Sequence[Message],
    decode: Callable[[bytes | None], Mapping[str, Any]],
) -> None:
    """Put each record's business attributes on its span (undecodable ones: none)."""
    for record_trace, message in zip(traces, records, strict=False):
        try:
            event = decode(message.value())
        except Exception:
            # The write path dead-letters it with the reason; the span says so then.
            continue
        record_trace.attributes = enriched_record_attributes(event)
        record_trace.span.set_attributes(record_trace.attributes)
        metrics.count_event_in(STAGE, record_trace.topic, str(event.get("event_type")))


@contextmanager
def writes_for(traces: Sequence[RecordTrace]) -> Iterator[Span]:
    """The span the Odoo calls of these records' writes run under (see module doc)."""
    if len(traces) == 1:
        with trace.use_span(traces[0].span, end_on_exit=False) as span:
            yield span
        return
    with batch_span(
        trace.get_tracer(TRACER_NAME),
        "sink batch write",
        [t.span.get_span_context() for t in traces],
    ) as span:
        link_records_to_batch([t.span for t in traces], span)
        yield span


def finish_record_traces(
    traces: Sequence[RecordTrace], results: Sequence[Any], xmlid_module: str
) -> None:
    """End every record span with its outcome; ``results`` may be shorter."""
    for index, record_trace in enumerate(traces):
        result = results[index] if index < len(results) else None
        _finish(record_trace, result, xmlid_module)


def _finish(record_trace: RecordTrace, result: Any, xmlid_module: str) -> None:
    span = record_trace.span
    workflow = str(record_trace.attributes.get(WORKFLOW, "unknown"))
    account = str(record_trace.attributes.get(CANONICAL_ACCOUNT_ID, ""))
    record_id = str(record_trace.attributes.get(SOURCE_OBJECT_ID, ""))
    if result is None:
        span.set_attribute(OUTCOME, Outcome.RETRY_LATER.value)
    elif hasattr(result, "error_class"):
        # A dead letter: its message may quote values, only the class is recorded.
        span.set_attributes(
            safe_attributes(
                {
                    OUTCOME: Outcome.DEAD_LETTERED.value,
                    OUTCOME_DETAIL: result.error_class,
                }
            )
        )
        span.set_status(Status(StatusCode.ERROR, result.error_class))
        metrics.count_dead_letter(workflow, result.error_class)
        metrics.count_sink_outcome(workflow, "", Outcome.DEAD_LETTERED.value)
        if account:
            metrics.blocked_workflows.block(workflow, account, record_id)
    else:
        action = getattr(result.action, "value", str(result.action))
        outcome = OUTCOME_BY_ACTION.get(action, Outcome.WRITTEN)
        span.set_attributes(
            safe_attributes(
                {
                    OUTCOME: outcome.value,
                    OUTCOME_DETAIL: action,
                    ODOO_MODEL: result.model,
                    ODOO_EXTERNAL_ID: f"{xmlid_module}.{result.xmlid_name}",
                }
            )
        )
        metrics.count_sink_outcome(workflow, result.model, outcome.value)
        if account:
            metrics.blocked_workflows.unblock(workflow, account, record_id)
    span.end()


def observe_poll(
    consumer: Any, records: Sequence[Message], consumer_group: str
) -> None:
    """Batch size, and the lag each polled partition had after this poll."""
    metrics.observe_sink_batch(len(records))
    last: dict[tuple[str, int], int] = {}
    for message in records:
        last[(message.topic() or "", message.partition())] = message.offset()
    for (topic, partition), offset in last.items():
        _low, high = consumer.get_watermark_offsets(
            TopicPartition(topic, partition), cached=True
        )
        if high is not None and high >= 0:
            metrics.observe_consumer_lag(
                consumer_group, topic, partition, max(high - offset - 1, 0)
            )
