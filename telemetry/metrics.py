"""Every metric the pipeline exports, with its meaning, in one place.

Instruments are created on the global OpenTelemetry meter at import. Until a process
calls ``telemetry.metrics_endpoint.serve_metrics`` they record into a no-op provider,
so stage code can call the ``count_*``/``observe_*`` functions unconditionally.

Names are Prometheus names as scraped (the exporter adds ``_total`` to counters).
Labels are bounded: topics, event types, models, methods, outcomes, reasons, partitions.
The one exception is ``pipeline_workflows_blocked``, labelled by canonical account id,
which only ever holds the accounts that currently have a blocked record.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

METER_NAME = "saas-odoo-pipeline"


@dataclass(frozen=True)
class MetricName:
    name: str
    description: str
    unit: str = "1"


EVENTS_IN = MetricName(
    "pipeline_events_in",
    "Records a stage read, by stage, topic and event type.",
)
EVENTS_OUT = MetricName(
    "pipeline_events_out",
    "Records a stage produced, by stage, topic and event type.",
)
DUPLICATES_DROPPED = MetricName(
    "pipeline_duplicates_dropped",
    "Redeliveries of an already accepted event id, dropped by deduplicate.",
)
LATE_EVENTS = MetricName(
    "pipeline_late_events",
    "Snapshots older than the applied state, not applied by correlate.",
)
REJECTS = MetricName(
    "pipeline_rejects",
    "Inputs refused at ingest, by source and reason: lines and bodies sent to "
    "deadletter.ingest, and webhook requests refused with 401 or 413.",
)
DEAD_LETTERS = MetricName(
    "pipeline_dead_letters",
    "Records the sink gave up on (sent to deadletter.sink), by workflow and error.",
)
SINK_OUTCOMES = MetricName(
    "pipeline_sink_outcomes",
    "Records the sink finished, by workflow, Odoo model and outcome.",
)
CONSUMER_LAG = MetricName(
    "pipeline_consumer_lag",
    "Records on a partition not yet processed by a consumer group (high watermark "
    "minus next offset), as of the group's last poll.",
)
REORDER_BUFFER_DEPTH = MetricName(
    "pipeline_reorder_buffer_depth",
    "Events held back by the ordering stage waiting for earlier ones, by partition.",
)
REORDER_HOLD = MetricName(
    "pipeline_reorder_hold_seconds",
    "How long the ordering stage held an event before releasing it.",
    "s",
)
ODOO_CALL_DURATION = MetricName(
    "pipeline_odoo_call_duration_seconds",
    "Duration of one Odoo RPC over HTTP, by model, method and outcome "
    "(ok, transient_error, permanent_error).",
    "s",
)
ODOO_RETRIES = MetricName(
    "pipeline_odoo_retries",
    "Retries of an Odoo write after a transient failure, by error class.",
)
SINK_BATCH_RECORDS = MetricName(
    "pipeline_sink_batch_records",
    "Records per sink poll batch.",
)
TABLE_MEMORY = MetricName(
    "pipeline_table_memory_bytes",
    "Memory RocksDB holds for a processor table, by table and kind: block_cache, "
    "memtables, table_readers (index and filter blocks of the open files).",
)
WORKFLOWS_BLOCKED = MetricName(
    "pipeline_workflows_blocked",
    "Business records dead-lettered and not since written, by workflow and canonical "
    "account (e.g. an unpaid invoice that never reached Odoo).",
)

ALL_METRICS = (
    EVENTS_IN,
    EVENTS_OUT,
    DUPLICATES_DROPPED,
    LATE_EVENTS,
    REJECTS,
    DEAD_LETTERS,
    SINK_OUTCOMES,
    CONSUMER_LAG,
    REORDER_BUFFER_DEPTH,
    REORDER_HOLD,
    ODOO_CALL_DURATION,
    ODOO_RETRIES,
    SINK_BATCH_RECORDS,
    TABLE_MEMORY,
    WORKFLOWS_BLOCKED,
)

# Odoo calls take milliseconds to tens of seconds (the client timeout is 30 s).
ODOO_LATENCY_BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)
BATCH_SIZE_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
REORDER_HOLD_BUCKETS = (0.01, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0)


class GaugeReadings:
    """Last reading per label set, read by an observable gauge at scrape time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[tuple[tuple[str, str], ...], float] = {}

    def set(self, value: float, **labels: str) -> None:
        with self._lock:
            self._values[tuple(sorted(labels.items()))] = value

    def observations(self, options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            readings = list(self._values.items())
        return [Observation(value, dict(labels)) for labels, value in readings]


class BlockedWorkflows:
    """Records that were dead-lettered and not written since, per workflow and account.

    A later successful write of the same record (a fixed replay, a newer version)
    unblocks it, so the gauge counts what is at risk now, not what ever failed.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._blocked: dict[tuple[str, str], set[str]] = defaultdict(set)

    def block(self, workflow: str, account: str, record_id: str) -> None:
        with self._lock:
            self._blocked[(workflow, account)].add(record_id)

    def unblock(self, workflow: str, account: str, record_id: str) -> None:
        with self._lock:
            self._blocked.get((workflow, account), set()).discard(record_id)

    def observations(self, options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            counts = {key: len(ids) for key, ids in self._blocked.items()}
        return [
            Observation(count, {"workflow": workflow, "account": account})
            for (workflow, account), count in counts.items()
        ]


_meter = metrics.get_meter(METER_NAME)


def _counter(spec: MetricName) -> metrics.Counter:
    return _meter.create_counter(spec.name, spec.unit, spec.description)


def _histogram(spec: MetricName, buckets: tuple[float, ...]) -> metrics.Histogram:
    return _meter.create_histogram(
        spec.name,
        spec.unit,
        spec.description,
        explicit_bucket_boundaries_advisory=list(buckets),
    )


def _gauge(
    spec: MetricName, callback: Callable[[CallbackOptions], Iterable[Observation]]
) -> None:
    _meter.create_observable_gauge(spec.name, [callback], spec.unit, spec.description)


_events_in = _counter(EVENTS_IN)
_events_out = _counter(EVENTS_OUT)
_duplicates = _counter(DUPLICATES_DROPPED)
_late = _counter(LATE_EVENTS)
_rejects = _counter(REJECTS)
_dead_letters = _counter(DEAD_LETTERS)
_sink_outcomes = _counter(SINK_OUTCOMES)
_odoo_retries = _counter(ODOO_RETRIES)
_odoo_duration = _histogram(ODOO_CALL_DURATION, ODOO_LATENCY_BUCKETS)
_batch_records = _histogram(SINK_BATCH_RECORDS, BATCH_SIZE_BUCKETS)
_reorder_hold = _histogram(REORDER_HOLD, REORDER_HOLD_BUCKETS)

consumer_lag = GaugeReadings()
reorder_buffer_depth = GaugeReadings()
table_memory = GaugeReadings()
blocked_workflows = BlockedWorkflows()
_gauge(CONSUMER_LAG, consumer_lag.observations)
_gauge(REORDER_BUFFER_DEPTH, reorder_buffer_depth.observations)
_gauge(TABLE_MEMORY, table_memory.observations)
_gauge(WORKFLOWS_BLOCKED, blocked_workflows.observations)


def count_event_in(stage: str, topic: str, event_type: str) -> None:
    _events_in.add(1, {"stage": stage, "topic": topic, "event_type": event_type})


def count_event_out(stage: str, topic: str, event_type: str) -> None:
    _events_out.add(1, {"stage": stage, "topic": topic, "event_type": event_type})


def count_duplicate(source_system: str) -> None:
    _duplicates.add(1, {"source_system": source_system})


def count_late(source_system: str) -> None:
    _late.add(1, {"source_system": source_system})


def count_reject(source: str, reason: str) -> None:
    _rejects.add(1, {"source": source, "reason": reason})


def count_dead_letter(workflow: str, error_class: str) -> None:
    _dead_letters.add(1, {"workflow": workflow, "error_class": error_class})


def count_sink_outcome(workflow: str, model: str, outcome: str) -> None:
    _sink_outcomes.add(1, {"workflow": workflow, "model": model, "outcome": outcome})


def count_odoo_retry(error_class: str) -> None:
    _odoo_retries.add(1, {"error_class": error_class})


def observe_odoo_call(model: str, method: str, outcome: str, seconds: float) -> None:
    _odoo_duration.record(
        seconds, {"model": model, "method": method, "outcome": outcome}
    )


def observe_sink_batch(records: int) -> None:
    _batch_records.record(records)


def observe_consumer_lag(group: str, topic: str, partition: int, lag: int) -> None:
    consumer_lag.set(lag, group=group, topic=topic, partition=str(partition))


def observe_table_memory(table: str, kind: str, size: int) -> None:
    """Hook for the processor worker: bytes RocksDB holds for ``table`` as ``kind``."""
    table_memory.set(size, table=table, kind=kind)


def observe_reorder_buffer(partition: int, depth: int) -> None:
    """Hook for the ordering stage: events it currently holds on ``partition``."""
    reorder_buffer_depth.set(depth, partition=str(partition))


def observe_reorder_hold(seconds: float) -> None:
    """Hook for the ordering stage: how long one event was held before release."""
    _reorder_hold.record(seconds)
