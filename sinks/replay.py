"""Re-apply a stretch of the enriched topic to Odoo, from an offset or a point in time.

Replay reads with its own consumer, assigned to the partitions by hand (group
``<sink group>-replay``, which never commits), so it never moves the live sink's
offsets and can run while the sink is running. It goes through the same writer as the
sink: upserts by external id with the version guard, so records Odoo already holds at
the same or a newer version are skipped and replaying is safe. The stretch ends at each
partition's high watermark taken when the replay starts; records produced meanwhile are
the live sink's business.

``dry_run`` writes nothing: it decodes the records, reads Odoo to see whether each one
would be applied (its version is newer than the stored one) and reports the external ids
they touch.

Known limit: the version guard reads, then writes. If the live sink applies a newer
version of a record between the replay's read and write, the replay's older version can
land last. Stop the sink for a replay that must be exact, or replay again afterwards.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)

from eventbus import AvroCodec, Topics
from eventbus.kafka_config import consumer_config
from pipeline.settings import Settings
from sinks.audit import AuditTopic, AuditTrail, PersonalDataMask, default_instance_id
from sinks.consumer import (
    PERMANENT_ERRORS,
    DeadLetter,
    DeadLetterTopic,
    RecordApplier,
    RecordSource,
    SinkStats,
)
from sinks.field_ownership import FieldOwnership
from sinks.odoo_writer import OdooWriter

if TYPE_CHECKING:
    from sinks.odoo.client import OdooClient

logger = logging.getLogger(__name__)

# Give up when the broker returns nothing for this long before the stretch is read.
STALLED_AFTER_SECONDS = 30.0
METADATA_ATTEMPTS = 6
# Answers that only mean "ask again in a moment" (librdkafka does not always flag them
# retriable on offset look-ups).
LEADERSHIP_MOVING = frozenset(
    {
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError._TRANSPORT,
    }
)
T = TypeVar("T")


class ReplayError(Exception):
    """A replay that cannot start or cannot finish, with the reason."""


@dataclass(frozen=True)
class PartitionRange:
    partition: int
    start: int
    end: int  # exclusive: the high watermark when the replay started

    @property
    def size(self) -> int:
        return max(0, self.end - self.start)


@dataclass
class ReplayReport:
    dry_run: bool
    ranges: list[PartitionRange]
    records: int = 0
    stats: SinkStats = field(default_factory=SinkStats)
    would_apply: int = 0
    would_skip: int = 0
    would_dead_letter: int = 0
    external_ids: set[str] = field(default_factory=set)

    def summary(self) -> dict[str, object]:
        summary: dict[str, object] = {
            "dry_run": self.dry_run,
            "records": self.records,
            "ranges": {r.partition: [r.start, r.end] for r in self.ranges},
        }
        if self.dry_run:
            summary |= {
                "would_apply": self.would_apply,
                "would_skip": self.would_skip,
                "would_dead_letter": self.would_dead_letter,
                "external_ids": sorted(self.external_ids),
            }
        else:
            summary |= self.stats.summary()
        return summary


def replay(
    settings: Settings,
    *,
    from_offset: int | None,
    from_timestamp: datetime | None,
    partitions: list[int] | None,
    dry_run: bool,
    client: OdooClient | None = None,
    rewrite_same_version: bool = False,
    to_offset: int | None = None,
) -> ReplayReport:
    """Re-apply the enriched topic from ``from_offset`` or ``from_timestamp``.

    With neither, every partition is replayed from its earliest retained record.
    ``to_offset`` (exclusive) ends every chosen partition there instead of at the end
    it had when the replay started, so a start and an end offset make a range.
    ``rewrite_same_version`` also rewrites records Odoo holds at the same version:
    the repair after a deploy that wrote wrong values (never older versions).
    """
    if from_offset is not None and from_timestamp is not None:
        raise ReplayError("give either a start offset or a start time, not both")
    if client is None:
        from sinks.odoo import make_client

        client = make_client(settings.odoo)
    topic = Topics(settings.kafka.topic_prefix).enriched
    consumer = Consumer(
        consumer_config(
            settings.kafka, f"{settings.sink.group_id}-replay", "odoo-sink-replay"
        )
    )
    try:
        ranges = _ranges(
            consumer, topic, from_offset, from_timestamp, partitions, to_offset
        )
        report = ReplayReport(dry_run=dry_run, ranges=ranges)
        logger.info(
            "replaying topic=%s dry_run=%s ranges=%s",
            topic,
            dry_run,
            {r.partition: (r.start, r.end) for r in ranges},
        )
        ownership = FieldOwnership.from_file(settings.sink.field_ownership_file)
        writer = OdooWriter(client, settings.odoo.xmlid_module, ownership=ownership)
        writer.rewrite_same_version = rewrite_same_version
        applier = RecordApplier(
            writer,
            AvroCodec(settings.kafka.schema_registry_url),
        )
        _ReplayRun(settings, consumer, topic, applier, report).read(ranges)
    finally:
        consumer.close()
    logger.info("replay finished records=%d", report.records)
    return report


def _ranges(
    consumer: Consumer,
    topic: str,
    from_offset: int | None,
    from_timestamp: datetime | None,
    partitions: list[int] | None,
    to_offset: int | None = None,
) -> list[PartitionRange]:
    metadata = consumer.list_topics(topic, timeout=30)
    known = (
        sorted(metadata.topics[topic].partitions) if topic in metadata.topics else []
    )
    if not known:
        raise ReplayError(f"topic {topic} does not exist")
    chosen = sorted(set(partitions)) if partitions else known
    unknown = [p for p in chosen if p not in known]
    if unknown:
        raise ReplayError(f"topic {topic} has no partition {unknown}")

    starts: dict[int, int] = {}
    if from_timestamp is not None:
        millis = int(from_timestamp.timestamp() * 1000)
        found = _retrying_metadata(
            lambda: consumer.offsets_for_times(
                [TopicPartition(topic, p, millis) for p in chosen], timeout=30
            )
        )
        # -1: no record at or after that time in the partition; nothing to replay.
        starts = {tp.partition: tp.offset for tp in found}

    ranges = []
    for partition in chosen:
        watermark = TopicPartition(topic, partition)
        low, high = _retrying_metadata(
            lambda tp=watermark: consumer.get_watermark_offsets(tp, timeout=30)
        )
        if from_timestamp is not None:
            start = starts[partition] if starts[partition] >= 0 else high
        else:
            start = low if from_offset is None else min(max(from_offset, low), high)
        end = high if to_offset is None else min(max(to_offset, start), high)
        ranges.append(PartitionRange(partition, start, end))
    return ranges


def _retrying_metadata(ask: Callable[[], T]) -> T:
    """``ask`` again while the broker answers a retriable error.

    Right after a topic is created, or while leadership moves, a broker can answer
    "not leader for partition" for a moment.
    """
    for attempt in range(METADATA_ATTEMPTS):
        try:
            return ask()
        except KafkaException as error:
            kafka_error = error.args[0] if error.args else None
            retriable = kafka_error is not None and (
                kafka_error.retriable() or kafka_error.code() in LEADERSHIP_MOVING
            )
            if not retriable or attempt + 1 == METADATA_ATTEMPTS:
                raise
            logger.warning("broker answered %s; asking again", error.args[0].name())
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover


class _ReplayRun:
    """Reads the assigned ranges once, applying or previewing every record."""

    def __init__(
        self,
        settings: Settings,
        consumer: Consumer,
        topic: str,
        applier: RecordApplier,
        report: ReplayReport,
    ) -> None:
        self._settings = settings
        self._consumer = consumer
        self._topic = topic
        self._applier = applier
        self._report = report
        self._dead_letters: DeadLetterTopic | None = None
        # Replayed writes are audited like the sink's, under their own instance name.
        self._audit_topic: AuditTopic | None = None
        instance = settings.sink.instance_id or default_instance_id()
        self._audit = AuditTrail(
            f"{instance}/replay",
            PersonalDataMask(settings.sink.audit_mask_personal_data),
        )

    def read(self, ranges: list[PartitionRange]) -> None:
        pending = {r.partition: r for r in ranges if r.size > 0}
        if not pending:
            return
        self._consumer.assign(
            [
                TopicPartition(self._topic, r.partition, r.start)
                for r in pending.values()
            ]
        )
        try:
            self._consume_until_done(pending)
        finally:
            if self._dead_letters is not None:
                self._dead_letters.close()
            if self._audit_topic is not None:
                self._audit_topic.close()

    def _consume_until_done(self, pending: dict[int, PartitionRange]) -> None:
        last_record = time.monotonic()
        while pending:
            messages = self._consumer.consume(num_messages=500, timeout=1.0)
            if not messages and time.monotonic() - last_record > STALLED_AFTER_SECONDS:
                raise ReplayError(
                    f"no records for {STALLED_AFTER_SECONDS:.0f}s with partitions "
                    f"{sorted(pending)} unfinished"
                )
            for message in messages:
                if message.error() is not None:
                    logger.warning("consumer error %s", message.error())
                    continue
                last_record = time.monotonic()
                own_range = pending.get(message.partition())
                if own_range is None or message.offset() >= own_range.end:
                    continue
                self._replay_one(message)
                if message.offset() + 1 >= own_range.end:
                    del pending[message.partition()]

    def _replay_one(self, message: Message) -> None:
        self._report.records += 1
        source = RecordSource(message.topic(), message.partition(), message.offset())
        if self._report.dry_run:
            self._preview(message)
            return
        result = self._applier.apply(source, message.value())
        try:
            event: dict[str, Any] | None = self._applier.decode(message.value())
        except PERMANENT_ERRORS:
            event = None
        if isinstance(result, DeadLetter):
            self._dead_letter(message, result)
            audit = self._audit.for_dead_letter(event, result)
        else:
            self._report.stats.count(result)
            audit = self._audit.for_outcome(source, event, result)
        if self._audit_topic is None:
            self._audit_topic = AuditTopic(self._settings, "odoo-sink-replay-audit")
        self._audit_topic.publish(audit)

    def _preview(self, message: Message) -> None:
        try:
            event = self._applier.decode(message.value())
            preview = self._applier.writer.preview(event)
        except PERMANENT_ERRORS:
            self._report.would_dead_letter += 1
            return
        self._report.external_ids.update(preview.external_ids)
        if preview.would_apply:
            self._report.would_apply += 1
        else:
            self._report.would_skip += 1

    def _dead_letter(self, message: Message, dead_letter: DeadLetter) -> None:
        if self._dead_letters is None:
            self._dead_letters = DeadLetterTopic(
                self._settings, "odoo-sink-replay-deadletter"
            )
        self._dead_letters.publish(message, dead_letter)
        self._report.stats.dead_lettered += 1
