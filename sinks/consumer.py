"""The Kafka side of the Odoo sink: consume ``enriched.accounts``, write, then commit.

Delivery guarantee: at least once into Odoo, effectively once in Odoo's state. Offsets
are committed synchronously after every poll batch and only up to the last record Odoo
accepted (or that went to the dead-letter topic, flushed first), so a crash re-delivers
records whose write may or may not have happened; the writer's upsert by external id and
version guard make re-applying them harmless.

What happens to one record:

* written, skipped as stale, or merged: counted, offset may be committed;
* Odoo is temporarily unavailable (``OdooTransientError``): retried with bounded,
  jittered exponential backoff (honouring Odoo's ``Retry-After``); when the retries run
  out, the partition is rewound to that record and nothing after it is committed, so
  the record is tried again on a later poll;
* the record can never be written (``OdooPermanentError``, ``UnmappableRecord``, bytes
  that do not decode): produced unchanged to ``deadletter.sink`` with headers naming the
  error class and message, original topic/partition/offset, attempts and trace id, and
  the partition moves on.

Records of one partition are applied in offset order; the topic is keyed by canonical
account id, so one account's records are never reordered.
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
)

from eventbus import AvroCodec, SchemaCatalogError, Topics, WireFormatError
from eventbus.kafka_config import consumer_config, producer_config
from pipeline.settings import Settings
from sinks.odoo import OdooError, OdooPermanentError
from sinks.odoo_writer import OdooWriter, WriteAction, WriteOutcome
from sinks.record_mapping import UnmappableRecord
from sinks.record_tracing import (
    describe_records,
    finish_record_traces,
    observe_poll,
    start_record_traces,
    writes_for,
)
from telemetry.metrics import count_odoo_retry

if TYPE_CHECKING:
    from sinks.audit import AuditEvent
    from sinks.odoo.client import OdooClient
    from sinks.segment_applier import PollResult

logger = logging.getLogger(__name__)

ENRICHED_SUBJECT = "EnrichedEvent"

# How long one record may keep Odoo retrying before its partition is rewound.
DEFAULT_RETRY_SECONDS = 60.0
BACKOFF_FIRST_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 15.0

# Errors that no retry can fix: the record goes to the dead-letter topic.
PERMANENT_ERRORS: tuple[type[Exception], ...] = (
    OdooPermanentError,
    UnmappableRecord,
    WireFormatError,
    SchemaCatalogError,
)

DEAD_LETTER_HEADER_PREFIX = "x-sink-"
# How long a commit is retried while the group coordinator loads or moves.
COMMIT_RETRY_SECONDS = 30.0
RETRIABLE_COMMIT_ERRORS = frozenset(
    {
        KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
        KafkaError.COORDINATOR_NOT_AVAILABLE,
        KafkaError.NOT_COORDINATOR,
        KafkaError.REQUEST_TIMED_OUT,
        KafkaError._TIMED_OUT,
        KafkaError._TRANSPORT,
    }
)


class OdooUnavailable(Exception):
    """Odoo kept failing transiently for one record until the retry budget ran out."""

    def __init__(self, source: RecordSource, attempts: int, cause: Exception) -> None:
        super().__init__(
            f"record {source}: Odoo still unavailable after {attempts} attempts "
            f"({type(cause).__name__})"
        )
        self.source = source
        self.attempts = attempts


@dataclass(frozen=True)
class RecordSource:
    topic: str
    partition: int
    offset: int

    def __str__(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"


@dataclass(frozen=True)
class DeadLetter:
    """A record the sink gives up on, and why."""

    source: RecordSource
    error_class: str
    error_message: str
    attempts: int
    trace_id: str
    event_id: str

    def headers(self) -> list[tuple[str, bytes]]:
        fields = {
            "error-class": self.error_class,
            "error-message": self.error_message,
            "original-topic": self.source.topic,
            "original-partition": str(self.source.partition),
            "original-offset": str(self.source.offset),
            "attempts": str(self.attempts),
            "trace-id": self.trace_id,
            "event-id": self.event_id,
        }
        return [
            (DEAD_LETTER_HEADER_PREFIX + name, value.encode("utf-8"))
            for name, value in fields.items()
        ]


@dataclass
class SinkStats:
    """Counts of what the sink did, per Odoo model and in total."""

    by_model: dict[str, Counter[str]] = field(
        default_factory=lambda: defaultdict(Counter)
    )
    dead_lettered: int = 0
    # "model.field" -> how many writes of it were skipped: the source did not own it.
    not_owned: Counter[str] = field(default_factory=Counter)

    def count(self, outcome: WriteOutcome) -> None:
        self.by_model[outcome.model][outcome.action.value] += 1
        for name in outcome.skipped_fields:
            self.not_owned[f"{outcome.model}.{name}"] += 1

    def total(self, action: WriteAction) -> int:
        return sum(counts[action.value] for counts in self.by_model.values())

    @property
    def created(self) -> int:
        return self.total(WriteAction.CREATED)

    @property
    def updated(self) -> int:
        return self.total(WriteAction.UPDATED)

    @property
    def written(self) -> int:
        return self.created + self.updated

    @property
    def skipped_stale(self) -> int:
        return self.total(WriteAction.SKIPPED_STALE) + self.total(WriteAction.UNCHANGED)

    @property
    def merged(self) -> int:
        return self.total(WriteAction.MERGED)

    def summary(self) -> dict[str, Any]:
        return {
            "written": self.written,
            "created": self.created,
            "updated": self.updated,
            "skipped_stale": self.skipped_stale,
            "merged": self.merged,
            "dead_lettered": self.dead_lettered,
            "skipped_not_owner": self.total(WriteAction.SKIPPED_NOT_OWNER),
            "not_owned_fields": dict(sorted(self.not_owned.items())),
            "per_model": {model: dict(c) for model, c in sorted(self.by_model.items())},
        }


def trace_id_of(event: dict[str, Any] | None) -> str:
    """The W3C trace id of a record (``00-<trace id>-<span id>-<flags>``), or ''."""
    if not event:
        return ""
    parts = (event.get("trace_context") or {}).get("traceparent", "").split("-")
    return parts[1] if len(parts) >= 4 else ""


def _worth_retrying(error: BaseException) -> bool:
    # Any OdooError not known to be permanent is assumed to pass.
    return isinstance(error, OdooError) and not isinstance(error, OdooPermanentError)


def _wait_for_odoo(retry_state: RetryCallState) -> float:
    """Full-jitter exponential backoff, never shorter than Odoo's ``Retry-After``."""
    ceiling = min(
        BACKOFF_MAX_SECONDS,
        BACKOFF_FIRST_SECONDS * 2 ** (retry_state.attempt_number - 1),
    )
    backoff = random.uniform(0, ceiling)
    error = retry_state.outcome.exception() if retry_state.outcome else None
    retry_after = getattr(error, "retry_after", None) or 0.0
    return max(backoff, float(retry_after))


class RecordApplier:
    """Decode one enriched record and apply it, retrying while Odoo is unavailable.

    Kafka-free, so the retry and dead-letter decisions are testable alone.
    """

    def __init__(
        self,
        writer: OdooWriter,
        codec: AvroCodec,
        *,
        retry_seconds: float = DEFAULT_RETRY_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        stop_requested: Callable[[], bool] = lambda: False,
    ) -> None:
        self._writer = writer
        self._codec = codec
        self._retry_seconds = retry_seconds
        self._sleep = sleep
        self._stop_requested = stop_requested

    @property
    def writer(self) -> OdooWriter:
        return self._writer

    def decode(self, value: bytes | None) -> dict[str, Any]:
        return self._codec.decode(ENRICHED_SUBJECT, value)  # type: ignore[arg-type]

    def apply(
        self, source: RecordSource, value: bytes | None
    ) -> WriteOutcome | DeadLetter:
        """Write the record, or say why it must be dead-lettered.

        Raises ``OdooUnavailable`` when transient failures outlast the retry budget.
        """
        try:
            event = self.decode(value)
        except PERMANENT_ERRORS as error:
            return DeadLetter(
                source=source,
                error_class=type(error).__name__,
                error_message=str(error),
                attempts=1,
                trace_id="",
                event_id="",
            )
        return self.apply_event(source, event)

    def apply_event(
        self, source: RecordSource, event: dict[str, Any]
    ) -> WriteOutcome | DeadLetter:
        """Write one decoded record, or say why it must be dead-lettered."""
        attempts = 0
        try:
            for attempt in self._retrying():
                with attempt:
                    attempts = attempt.retry_state.attempt_number
                    return self._writer.apply(event)
        except PERMANENT_ERRORS as error:
            return DeadLetter(
                source=source,
                error_class=type(error).__name__,
                error_message=str(error),
                attempts=max(attempts, 1),
                trace_id=trace_id_of(event),
                event_id=event["event_id"],
            )
        except OdooError as error:
            # Transient (or unclassified) failures that outlasted the retry budget.
            raise OdooUnavailable(source, attempts, error) from error
        raise AssertionError("tenacity returned without an outcome")  # pragma: no cover

    def retrying(self) -> Retrying:
        """Retries of one Odoo step within this applier's budget."""
        return self._retrying()

    def _retrying(self) -> Retrying:
        return Retrying(
            retry=retry_if_exception(_worth_retrying),
            wait=_wait_for_odoo,
            stop=self._budget_spent,
            sleep=self._sleep,
            reraise=True,
            before_sleep=self._log_retry,
        )

    def _budget_spent(self, retry_state: RetryCallState) -> bool:
        # Time spent waiting counts as well as wall time, so an injected ``sleep``
        # (tests) spends the budget the same way a real one does.
        spent = max(retry_state.idle_for, retry_state.seconds_since_start or 0.0)
        # A shutdown ends the retries early: the record stays uncommitted and is
        # re-delivered to whoever owns the partition next.
        return spent >= self._retry_seconds or self._stop_requested()

    @staticmethod
    def _log_retry(retry_state: RetryCallState) -> None:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        count_odoo_retry(type(error).__name__)
        logger.warning(
            "odoo unavailable (%s); retrying attempt=%d in %.1fs",
            type(error).__name__,
            retry_state.attempt_number,
            retry_state.upcoming_sleep,
        )


class DeadLetterTopic:
    """Produces records the sink gave up on to ``deadletter.sink``, bytes unchanged."""

    def __init__(self, settings: Settings, client_id: str) -> None:
        self._topic = Topics(settings.kafka.topic_prefix).sink_deadletter
        self._producer = Producer(producer_config(settings.kafka, client_id))

    def publish(self, message: Message, dead_letter: DeadLetter) -> None:
        self._producer.produce(
            self._topic,
            key=message.key(),
            value=message.value(),
            headers=dead_letter.headers(),
        )
        # The error message may quote the record's values; only its class, position
        # and ids are logged, never personal data.
        logger.warning(
            "dead-lettered record %s error=%s event_id=%s trace_id=%s attempts=%d",
            dead_letter.source,
            dead_letter.error_class,
            dead_letter.event_id,
            dead_letter.trace_id,
            dead_letter.attempts,
        )

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until every dead letter is stored; raise if some are not."""
        undelivered = self._producer.flush(timeout)
        if undelivered:
            raise KafkaException(
                KafkaError(
                    KafkaError._MSG_TIMED_OUT,
                    f"{undelivered} dead letters not delivered to {self._topic}",
                )
            )

    def close(self) -> None:
        """Deliver what is pending, then release the producer."""
        try:
            self.flush()
        finally:
            self._producer.close()


class OdooSink:
    """Consume the enriched topic into Odoo until stopped (or idle, for demos)."""

    def __init__(
        self,
        settings: Settings,
        client: OdooClient,
        *,
        retry_seconds: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        from sinks.audit import AuditTopic, AuditTrail, PersonalDataMask
        from sinks.batch_writer import BatchWriter
        from sinks.field_ownership import FieldOwnership
        from sinks.segment_applier import SegmentApplier

        self._settings = settings
        self._topics = Topics(settings.kafka.topic_prefix)
        writer = OdooWriter(
            client,
            settings.odoo.xmlid_module,
            ownership=FieldOwnership.from_file(settings.sink.field_ownership_file),
        )
        codec = AvroCodec(settings.kafka.schema_registry_url)
        self._applier = RecordApplier(
            writer,
            codec,
            retry_seconds=(
                settings.sink.retry_seconds if retry_seconds is None else retry_seconds
            ),
            sleep=sleep,
            stop_requested=lambda: self._stopping,
        )
        batch_writer = (
            BatchWriter(client, writer, settings.odoo.xmlid_module)
            if settings.sink.batching
            else None
        )
        self._segments = SegmentApplier(self._applier, batch_writer)
        self._audit = AuditTrail(
            settings.sink.instance_id,
            PersonalDataMask(settings.sink.audit_mask_personal_data),
        )
        self._audit_topic = AuditTopic(settings, "odoo-sink-audit")
        self._pause = OutagePause(
            settings.sink.outage_pause_seconds, settings.sink.outage_pause_max_seconds
        )
        self._consumer = Consumer(
            consumer_config(settings.kafka, settings.sink.group_id, "odoo-sink")
        )
        self._dead_letters = DeadLetterTopic(settings, "odoo-sink-deadletter")
        self._stopping = False
        self._last_activity = time.monotonic()
        self.stats = SinkStats()

    @property
    def paused(self) -> bool:
        """Whether partitions are paused, waiting for Odoo to come back."""
        return self._pause.active

    def stop(self) -> None:
        """Finish the current batch, commit it and return from ``run`` (SIGTERM)."""
        self._stopping = True

    def run(self, stop_when_idle_seconds: float | None = None) -> SinkStats:
        """Consume until ``stop()``, or until no record came for that many seconds."""
        self._consumer.subscribe(
            [self._topics.enriched],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
        )
        self._last_activity = time.monotonic()
        logger.info(
            "odoo sink consuming topic=%s group=%s",
            self._topics.enriched,
            self._settings.sink.group_id,
        )
        try:
            while not self._stopping:
                self._resume_when_due()
                records = self._gather()
                if records:
                    self._last_activity = time.monotonic()
                    self._process_batch(records)
                elif self._idle_for(stop_when_idle_seconds):
                    logger.info(
                        "odoo sink idle for %.1fs; stopping", stop_when_idle_seconds
                    )
                    break
        finally:
            self._dead_letters.close()
            self._audit_topic.close()
            self._consumer.close()
        logger.info("odoo sink stopped %s", _key_values(self.stats.summary()))
        return self.stats

    def _process_batch(self, records: list[Message]) -> None:
        batch = SinkStats()
        started = time.monotonic()

        # 1. Apply records in offset order per partition; dead letters are produced.
        next_offsets = self._apply_batch(records, batch)

        # 2. Flush dead letters and audit events, so none is lost once its offset
        #    is committed.
        self._dead_letters.flush()
        self._audit_topic.flush()

        # 3. Commit, per partition, the offset after the last finished record.
        if next_offsets:
            self._commit(next_offsets)

        self._merge_stats(batch)
        counts = _batch_counts(batch)
        counts |= {
            "records": len(records),
            "seconds": round(time.monotonic() - started, 3),
        }
        logger.info("odoo sink batch %s", _key_values(counts))

    def _commit(self, offsets: list[TopicPartition]) -> None:
        """Commit synchronously, retrying while the group coordinator moves or loads
        (it does after a broker restart). If it still fails, the offsets stay where they
        were: the records are read again later, which the version guard makes harmless,
        so the sink logs it and goes on instead of exiting."""
        deadline = time.monotonic() + COMMIT_RETRY_SECONDS
        delay = 0.2
        while True:
            try:
                self._consumer.commit(offsets=offsets, asynchronous=False)
                return
            except KafkaException as exc:
                error = exc.args[0] if exc.args else None
                retriable = isinstance(error, KafkaError) and (
                    error.retriable() or error.code() in RETRIABLE_COMMIT_ERRORS
                )
                if not retriable or time.monotonic() >= deadline:
                    logger.warning(
                        "offset commit failed; records after the last committed "
                        "offset will be read again %s",
                        _key_values({"error": str(error)}),
                    )
                    return
                time.sleep(delay)
                delay = min(delay * 2, 2.0)

    def _gather(self) -> list[Message]:
        """One batch: the first poll, then more until the size or interval is hit."""
        sink = self._settings.sink
        messages = self._consumer.consume(
            num_messages=sink.batch_max_records, timeout=sink.poll_timeout_seconds
        )
        records = [m for m in messages if not self._is_error(m)]
        if not records or not sink.batching:
            return records
        deadline = time.monotonic() + sink.flush_interval_seconds
        while len(records) < sink.batch_max_records:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            more = self._consumer.consume(
                num_messages=sink.batch_max_records - len(records), timeout=remaining
            )
            records.extend(m for m in more if not self._is_error(m))
        return records

    def _apply_batch(
        self, records: list[Message], batch: SinkStats
    ) -> list[TopicPartition]:
        from sinks.segment_applier import PendingRecord

        pending = [
            PendingRecord(RecordSource(m.topic(), m.partition(), m.offset()), m.value())
            for m in records
        ]
        group, module = self._settings.sink.group_id, self._settings.odoo.xmlid_module
        traces = start_record_traces(records, group)
        describe_records(traces, records, self._applier.decode)
        with writes_for(traces):
            poll = self._segments.apply(pending)
        finish_record_traces(traces, poll.results, module)
        observe_poll(self._consumer, records, group)

        finished: dict[tuple[str, int], int] = {}
        for message, record, result, event in zip(
            records, pending, poll.results, poll.events, strict=False
        ):
            partition = (message.topic(), message.partition())
            if isinstance(result, DeadLetter):
                self._dead_letters.publish(message, result)
                self._audit_topic.publish(self._audit.for_dead_letter(event, result))
                batch.dead_lettered += 1
            else:
                batch.count(result)
                self._audit_topic.publish(
                    self._audit_of(record.source, poll, result, event)
                )
            finished[partition] = message.offset() + 1

        if poll.unavailable is not None:
            self._pause_unfinished(records[len(poll.results) :], poll.unavailable)
        else:
            self._pause.reset()
        return [TopicPartition(t, p, offset) for (t, p), offset in finished.items()]

    def _audit_of(
        self,
        source: RecordSource,
        poll: PollResult,
        outcome: WriteOutcome,
        event: dict[str, Any] | None,
    ) -> AuditEvent:
        change = self._segments.change_of(poll, event)
        if change is None:
            return self._audit.for_outcome(source, event, outcome)
        return self._audit.for_outcome(
            source, event, outcome, change.before, change.values
        )

    def _pause_unfinished(
        self, unfinished: list[Message], unavailable: OdooUnavailable
    ) -> None:
        """Rewind each partition to its first unwritten record and stop fetching it.

        Nothing after that record is committed; the partitions resume after a pause
        that doubles while Odoo stays unavailable, and the backlog drains in order.
        """
        first: dict[tuple[str, int], int] = {}
        for message in unfinished:
            first.setdefault((message.topic(), message.partition()), message.offset())
        for (topic, partition), offset in first.items():
            self._consumer.seek(TopicPartition(topic, partition, offset))
        # Every assigned partition waits: the other ones need the same Odoo.
        partitions = self._consumer.assignment()
        self._consumer.pause(partitions)
        pause_seconds = self._pause.paused(partitions)
        logger.warning(
            "%s; paused partitions=%s, resume in %.1fs",
            unavailable,
            sorted(p.partition for p in partitions),
            pause_seconds,
        )

    def _resume_when_due(self) -> None:
        partitions = self._pause.due()
        if partitions:
            self._consumer.resume(partitions)
            logger.info(
                "resumed partitions=%s to try Odoo again",
                sorted(p.partition for p in partitions),
            )

    def _merge_stats(self, batch: SinkStats) -> None:
        for model, counts in batch.by_model.items():
            self.stats.by_model[model].update(counts)
        self.stats.dead_lettered += batch.dead_lettered
        self.stats.not_owned.update(batch.not_owned)

    def _idle_for(self, seconds: float | None) -> bool:
        if self._pause.active:
            # Paused partitions hold a backlog: waiting for Odoo is not idleness.
            self._last_activity = time.monotonic()
            return False
        return seconds is not None and time.monotonic() - self._last_activity >= seconds

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Joining the group takes a while; idleness counts from owning partitions.
        self._last_activity = time.monotonic()
        logger.info(
            "odoo sink assigned partitions=%s", [p.partition for p in partitions]
        )

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._pause.forget(partitions)
        logger.info(
            "odoo sink revoked partitions=%s", [p.partition for p in partitions]
        )

    @staticmethod
    def _is_error(message: Message) -> bool:
        error = message.error()
        if error is None:
            return False
        if error.fatal():
            raise KafkaException(error)
        logger.warning("consumer error %s", error)
        return True


class OutagePause:
    """Partitions paused while Odoo is unavailable, and when to resume them."""

    def __init__(self, first_seconds: float, max_seconds: float) -> None:
        self._first = first_seconds
        self._max = max_seconds
        self._next = first_seconds
        self._paused: dict[tuple[str, int], TopicPartition] = {}
        self._resume_at = 0.0

    @property
    def active(self) -> bool:
        return bool(self._paused)

    def paused(self, partitions: list[TopicPartition]) -> float:
        """Record ``partitions`` as paused; the seconds until they resume."""
        for partition in partitions:
            self._paused[(partition.topic, partition.partition)] = partition
        seconds = self._next
        self._resume_at = time.monotonic() + seconds
        self._next = min(self._max, self._next * 2)
        return seconds

    def due(self) -> list[TopicPartition]:
        """The paused partitions, emptied, once their pause is over."""
        if not self._paused or time.monotonic() < self._resume_at:
            return []
        partitions = [
            TopicPartition(topic, partition) for topic, partition in self._paused
        ]
        self._paused.clear()
        return partitions

    def reset(self) -> None:
        """Odoo accepted a batch: the next outage starts with the short pause."""
        self._next = self._first

    def forget(self, partitions: list[TopicPartition]) -> None:
        for partition in partitions:
            self._paused.pop((partition.topic, partition.partition), None)


def _batch_counts(batch: SinkStats) -> dict[str, Any]:
    summary = batch.summary()
    summary.pop("per_model")
    summary.pop("not_owned_fields")
    return summary


def _key_values(fields: dict[str, Any]) -> str:
    return " ".join(f"{name}={value}" for name, value in fields.items())
