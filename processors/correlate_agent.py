"""The correlate agent: ``processing.deduplicated`` in, account-keyed enriched records out.

It reads one partition (the identity graph must see every identifier) and keeps all its
state in one table (``correlate_state``). For each input record:

1. a record processed before a crash has its changes restored and its outputs re-sent,
   exactly as the first pass made them;
2. otherwise an event is held in the reorder buffer (an event that arrived later than
   the hold allowed is applied at once, under its type's late policy); a tick record
   only moves the buffer's clock;
3. every held event that may leave now is applied by the ``Correlator``, in event-time
   order, each in a ``correlate`` span that continues the event's trace;
4. the record's changes and outputs are committed to the state table;
5. the outputs are sent.

While events are held, the worker sends a tick record to the input topic every
``reorder_tick_seconds``, so holds end even when no new event arrives. Ticks travel
through Kafka (rather than a timer acting on the tables) because a Faust table can only
be changed while processing a record, and because then a replay decides the same.
A record stamped more than a minute ahead of the worker's clock counts as arriving a
minute ahead, so one bad timestamp cannot end every hold for long.

Failures: an event the correlator cannot process (a bug, an unexpected payload) is
logged with its offset and skipped, with its half-made changes dropped, and the other
events go on. If the stage itself fails (its state table cannot be written), nothing of
the record is kept and the worker stops, to restart from its last committed offset:
skipping the record there would lose it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import faust

from eventbus import AvroCodec
from pipeline.settings import Settings
from processors.correlate import ENRICHED, LATE, Correlator
from processors.correlate_state import CorrelateState, JournalledOutput
from processors.reorder_buffer import ARRIVED_LATE, HeldEvent, Release, ReorderBuffer
from processors.stage_records import (
    ENRICHED_EVENT,
    LATE_REASON_HEADER,
    PROCESSING_NOTICE,
    ProcessorTopics,
    header_value,
    read_event,
    timestamp_micros,
)
from processors.table_store import store_options
from processors.tracing import (
    as_headers,
    record_attributes,
    record_correlation,
    record_hold,
    record_release,
    release_attributes,
    stage_span,
)
from telemetry import metrics

logger = logging.getLogger(__name__)

TICK_HEADER = "pipeline-tick"
TICK_KEY = b"reorder-tick"
REORDER_PATH = "/reorder/"
MICROS = 1_000_000
# How far ahead of this worker's clock a record timestamp is believed. A record
# stamped further ahead (a producer with a wrong clock, a hand-made tick) would end
# every hold at once; its time is taken as this far ahead instead.
MAX_CLOCK_AHEAD_MICROS = 60 * MICROS


def _wall_clock_micros() -> int:
    return time.time_ns() // 1_000


class CorrelateStep:
    """What the agent does with one input record, apart from Kafka and Faust."""

    def __init__(
        self,
        state: CorrelateState,
        settings: Settings,
        codec: AvroCodec,
        topic_names: Mapping[str, str],
        wall_clock: Callable[[], int] = _wall_clock_micros,
    ) -> None:
        processors = settings.processors
        self.state = state
        self.correlator = Correlator(state.correlator_stores(), processors)
        self.buffer = ReorderBuffer(
            state.namespace("reorder/"),
            hold_micros=int(processors.reorder_hold_seconds * MICROS),
            max_per_account=processors.reorder_max_per_account,
            dependency_wait_micros=int(
                processors.reorder_dependency_wait_seconds * MICROS
            ),
            current_account=self.correlator.current_account,
        )
        self._codec = codec
        self._topic_names = topic_names
        self._group = processors.app_id
        self._wall_clock = wall_clock

    def run(self, message: Any) -> list[JournalledOutput]:
        """Hold or apply what ``message`` brings; apply what may leave; the outputs."""
        now = self._arrival_time(message)
        outputs: list[JournalledOutput] = []
        if header_value(message.headers, TICK_HEADER) is None:
            outputs += self._arrive(message, now)
        elif message.value:
            logger.warning(
                "tick record carries a value; the value is ignored",
                extra={"topic": message.topic, "offset": message.offset},
            )
        self.buffer.release(
            now, self.correlator.knows_record, lambda r: outputs.extend(self._apply(r))
        )
        metrics.observe_reorder_buffer(message.partition, self.buffer.depth)
        return outputs

    def _arrival_time(self, message: Any) -> int:
        stamped = timestamp_micros(message)
        believed = self._wall_clock() + MAX_CLOCK_AHEAD_MICROS
        if stamped <= believed:
            return stamped
        logger.warning(
            "record stamped ahead of this worker's clock; its arrival is taken as now",
            extra={
                "topic": message.topic,
                "offset": message.offset,
                "seconds_ahead": (stamped - believed) // MICROS,
            },
        )
        return believed

    def _arrive(self, message: Any, now: int) -> list[JournalledOutput]:
        event = read_event(self._codec, message, "correlate")
        if event is None:
            return []
        savepoint = self.state.savepoint()
        try:
            with stage_span(
                "reorder",
                message.headers,
                event.get("trace_context"),
                record_attributes(message, event, self._group),
            ) as trace_context:
                held = HeldEvent(
                    offset=message.offset,
                    order=self.correlator.ordering_of(event),
                    account=self.correlator.account_of(event),
                    arrival=now,
                    event_bytes=message.value,
                    trace_context=trace_context,
                    awaits=self.correlator.awaits(event),
                )
                admitted = self.buffer.admit(held)
                record_hold(admitted)
        except Exception:
            # Nothing was held: admitting is the last step and does not fail on
            # event content.
            self._skip(savepoint, event, message.offset)
            return []
        if admitted:
            return []
        return self._apply(Release(held, ARRIVED_LATE, 0))

    def _apply(self, release: Release) -> list[JournalledOutput]:
        held = release.held
        event = self._codec.decode("BusinessEvent", held.event_bytes)
        attributes = release_attributes(
            self._topic_names["input"], held.offset, event, self._group, release
        )
        with stage_span("correlate", None, held.trace_context, attributes) as context:
            savepoint = self.state.savepoint()
            try:
                correlated = self.correlator.process(event)
                record_release(release)
                record_correlation(event, correlated, self._topic_names["enriched"])
                return _encoded(self._codec, correlated, held.event_bytes, context)
            except Exception:
                # The event leaves the buffer either way; its half-made changes go.
                self._skip(savepoint, event, held.offset)
                return []

    def _skip(
        self, savepoint: dict[str, Any], event: Mapping[str, Any], offset: int
    ) -> None:
        # A bug or an unexpected payload must not stop every account's processing: the
        # event's half-made changes are dropped and the record stays on the topic for a
        # replay once fixed.
        self.state.rollback(savepoint)
        logger.exception(
            "correlate skipped an event",
            extra={
                "event_id": event.get("event_id"),
                "topic": self._topic_names["input"],
                "offset": offset,
            },
        )


def add_correlate(
    app: faust.App, settings: Settings, topics: ProcessorTopics, codec: AvroCodec
) -> CorrelateStep:
    """Register the correlate agent, its tick timer and its ``/reorder/`` view."""
    table = app.Table(
        "correlate-state",
        partitions=1,
        key_type=str,
        options=store_options(settings.processors),
    )
    state = CorrelateState(table, settings.processors.output_journal_span)
    step = CorrelateStep(
        state,
        settings,
        codec,
        {
            "input": topics.deduplicated.get_topic_name(),
            "enriched": topics.enriched.get_topic_name(),
        },
    )
    by_role = {ENRICHED: topics.enriched, LATE: topics.late}

    @app.agent(topics.deduplicated, name="correlate")
    async def correlate(stream: Any) -> Any:
        async for record in stream.events():
            message = record.message
            # 1. a record processed before a crash: its first pass, again
            outputs = state.replayed(message.offset)
            if outputs is not None:
                step.buffer.reload()
            else:
                try:
                    # 2.-3. hold, release, apply
                    outputs = step.run(message)
                    # 4. changes and outputs to the state table
                    state.commit(message.offset, outputs)
                except Exception as exc:
                    # Failures of one event are handled inside ``run``; this is the
                    # state table or the stage itself failing. Skipping the record
                    # would lose it, so nothing of it is kept and the worker stops
                    # to restart from its last committed offset.
                    state.discard()
                    step.buffer.reload()
                    logger.exception(
                        "correlate cannot go on; stopping the worker",
                        extra={"topic": message.topic, "offset": message.offset},
                    )
                    await app.crash(exc)
                    return
            # 5. publish
            for role, key, value, headers in outputs:
                await by_role.get(role, topics.notices).send(
                    key=key.encode(), value=value, headers=as_headers(headers)
                )
            yield message.offset

    @app.on_partitions_assigned.connect
    async def forget_index(sender: Any, *args: Any, **kwargs: Any) -> None:
        # The table may have been recovered from its changelog since the index was
        # built; it is rebuilt from the table at the next record.
        step.buffer.reload()

    @app.timer(interval=settings.processors.reorder_tick_seconds)
    async def send_tick() -> None:
        if app.rebalancing or not app.tables.recovery.completed.is_set():
            return
        if step.buffer.depth:
            await topics.deduplicated.send(
                key=TICK_KEY, value=b"", headers=[(TICK_HEADER, b"1")]
            )

    @app.page(REORDER_PATH, name="reorder-buffer")
    async def reorder_view(view: faust.web.View, request: faust.web.Request) -> Any:
        held = step.buffer.depth if app.tables.recovery.completed.is_set() else None
        return view.json({"held_events": held})

    return step


def _encoded(
    codec: AvroCodec,
    outputs: list[tuple[str, str, dict[str, Any]]],
    event_bytes: bytes,
    trace_context: Mapping[str, str],
) -> list[JournalledOutput]:
    """The correlator's outputs as records to send: (role, key, value, headers).

    A late event goes to the late-events topic as it came, with its reason in the
    ``late-reason`` header, so it can be inspected and replayed unchanged.
    """
    encoded: list[JournalledOutput] = []
    for role, key, value in outputs:
        if role == LATE:
            headers = {**trace_context, LATE_REASON_HEADER: value["reason"]}
            encoded.append((role, key, event_bytes, headers))
            continue
        subject = ENRICHED_EVENT if role == ENRICHED else PROCESSING_NOTICE
        if role == ENRICHED:
            value = {**value, "trace_context": dict(trace_context)}
        try:
            encoded.append(
                (role, key, codec.encode(subject, value), dict(trace_context))
            )
        except (ValueError, TypeError, OverflowError) as exc:
            # The core's records are checked against the schemas in the unit tests; if
            # one still does not fit, losing that record beats stopping every account.
            logger.error(
                "could not encode %s %s for event %s: %s",
                subject,
                value.get("record_id", ""),
                value.get("event_id"),
                exc,
            )
    return encoded
