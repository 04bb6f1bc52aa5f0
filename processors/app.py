"""The Faust application: the deduplicate and correlate agents and their tables.

``deduplicate`` reads the four source topics with a dedup table co-partitioned with
them (a redelivery carries the same source account key, so it reaches the same
partition as its first delivery). First deliveries go on, byte for byte, to
``processing.deduplicated``; redeliveries become ``duplicate`` notices.

``correlate`` reads ``processing.deduplicated`` (one partition: the identity graph must
see every identifier) with changelog-backed tables for the graph and profiles, record
versions and usage, and publishes enriched records keyed by canonical account id and
notices for late snapshots. What it publishes for each input offset is journalled
(``output_journal``), so a record read again after a crash re-publishes its first
pass instead of being processed against state that already holds it.

A record that cannot be read or processed is logged with its topic, partition and
offset and skipped: one bad record never stops the worker.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import faust

from eventbus import AvroCodec, SchemaCatalogError, Topics, WireFormatError
from pipeline.settings import KafkaSettings, Settings
from processors.consumer_lag import add_lag_reporter
from processors.correlate import ENRICHED, LATE, Correlator, CorrelatorStores
from processors.dedup import DedupLedger, Duplicate
from processors.exceptions import UnreadableRecord
from processors.health_views import add_health_views
from processors.notices import duplicate_notice
from processors.output_journal import OutputJournal
from processors.table_buffer import TableBuffer
from processors.tracing import (
    as_headers,
    record_attributes,
    record_correlation,
    record_duplicate,
    record_passed,
    stage_span,
)

logger = logging.getLogger(__name__)

BUSINESS_EVENT = "BusinessEvent"
ENRICHED_EVENT = "EnrichedEvent"
PROCESSING_NOTICE = "ProcessingNotice"
LATE_REASON_HEADER = "late-reason"

# How often each partition's expired dedup identities are dropped.
PURGE_INTERVAL_SECONDS = 3600.0


def store_url() -> str:
    """rocksdb (via rocksdict) when installed: restarts reopen local state instead of
    replaying whole changelogs. Otherwise in memory, rebuilt from the changelogs."""
    try:
        import rocksdict  # noqa: F401
    except ImportError:
        logger.warning("rocksdict is not installed; table state is kept in memory")
        return "memory://"
    return "rocksdb://"


@dataclass(frozen=True)
class ProcessorTopics:
    sources: faust.TopicT
    deduplicated: faust.TopicT
    notices: faust.TopicT
    late: faust.TopicT
    enriched: faust.TopicT


def _raw_topic(app: faust.App, *names: str, partitions: int | None = None) -> Any:
    return app.topic(
        *names,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=partitions,
        internal=False,
    )


def _micros_now() -> int:
    return time.time_ns() // 1_000


def faust_broker_urls(kafka: KafkaSettings) -> str:
    """Faust names each bootstrap server as its own URL, separated by ``;``."""
    hosts = [h.strip() for h in kafka.bootstrap_servers.split(",") if h.strip()]
    return ";".join(f"kafka://{host}" for host in hosts)


def faust_broker_credentials(
    kafka: KafkaSettings,
) -> faust.types.auth.CredentialsT | None:
    """The same TLS and SASL settings the librdkafka clients use (eventbus.kafka_config)."""
    if kafka.security_protocol == "PLAINTEXT":
        return None
    ssl_context = None
    if kafka.security_protocol in ("SSL", "SASL_SSL"):
        ssl_context = ssl.create_default_context(cafile=kafka.ssl_ca_location)
    if kafka.security_protocol == "SSL":
        return faust.SSLCredentials(ssl_context)
    password = kafka.sasl_password.get_secret_value() if kafka.sasl_password else ""
    return faust.SASLCredentials(
        username=kafka.sasl_username or "",
        password=password,
        mechanism=kafka.sasl_mechanism or "PLAIN",
        ssl_context=ssl_context,
    )


def build_app(settings: Settings) -> faust.App:
    """The processors' Faust app, agents and tables, configured from ``settings``."""
    processors = settings.processors
    app = faust.App(
        processors.app_id,
        broker=faust_broker_urls(settings.kafka),
        broker_credentials=faust_broker_credentials(settings.kafka),
        store=store_url(),
        datadir=str(processors.state_dir),
        value_serializer="raw",
        topic_partitions=settings.kafka.partitions,
        topic_replication_factor=settings.kafka.replication_factor,
        topic_allow_declare=True,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        web_enabled=True,
        web_bind="127.0.0.1",
        web_host="127.0.0.1",
        web_port=processors.web_port,
        table_cleanup_interval=PURGE_INTERVAL_SECONDS,
    )
    names = Topics(settings.kafka.topic_prefix)
    topics = ProcessorTopics(
        sources=_raw_topic(app, *names.source_topics),
        deduplicated=_raw_topic(app, names.deduplicated, partitions=1),
        notices=_raw_topic(app, names.notices, partitions=1),
        late=_raw_topic(app, names.late, partitions=1),
        enriched=_raw_topic(app, names.enriched),
    )
    codec = AvroCodec(settings.kafka.schema_registry_url)
    _add_deduplicate(app, settings, topics, codec)
    _add_correlate(app, settings, topics, codec)
    add_health_views(app, settings)
    add_lag_reporter(app, processors.app_id)
    return app


def _json_table(app: faust.App, name: str, partitions: int) -> Any:
    # Without model types Faust serialises keys and values of a table as JSON, which
    # is why every value the core stores is plain JSON data.
    return app.Table(name, partitions=partitions, key_type=str)


def _read_event(codec: AvroCodec, message: Any, stage: str) -> dict[str, Any] | None:
    try:
        return codec.decode(BUSINESS_EVENT, message.value)
    except (WireFormatError, SchemaCatalogError) as exc:
        error = UnreadableRecord(
            message.topic, message.partition, message.offset, str(exc)
        )
        logger.warning("%s skipped a record: %s", stage, error)
        return None


def _add_deduplicate(
    app: faust.App, settings: Settings, topics: ProcessorTopics, codec: AvroCodec
) -> None:
    ledger_table = _json_table(app, "dedup-ledger", settings.kafka.partitions)
    ledger = DedupLedger(ledger_table, settings.processors.dedup_retention_days)
    last_purge: dict[int, float] = {}

    @app.agent(topics.sources, name="deduplicate")
    async def deduplicate(stream: Any) -> Any:
        async for record in stream.events():
            message = record.message
            event = _read_event(codec, message, "deduplicate")
            if event is None:
                continue
            with stage_span(
                "deduplicate",
                message.headers,
                event.get("trace_context"),
                record_attributes(message, event, settings.processors.app_id),
            ) as trace_context:
                verdict = ledger.check(event, shard=message.partition)
                if isinstance(verdict, Duplicate):
                    record_duplicate(event)
                    notice = duplicate_notice(
                        event, verdict.first_delivery, _micros_now()
                    )
                    await topics.notices.send(
                        key=event["event_id"].encode(),
                        value=codec.encode(PROCESSING_NOTICE, notice),
                        headers=as_headers(trace_context),
                    )
                else:
                    record_passed(event, topics.deduplicated.get_topic_name())
                    await topics.deduplicated.send(
                        key=message.key,
                        value=message.value,
                        headers=as_headers(trace_context),
                    )
            _purge_when_due(ledger, last_purge, message.partition)
            yield event["event_id"]


def _purge_when_due(
    ledger: DedupLedger, last_purge: dict[int, float], partition: int
) -> None:
    # Deleting from a Faust table writes to the changelog partition of the record
    # being processed, so each partition purges its own identities, in its agent.
    now = time.monotonic()
    if now - last_purge.get(partition, 0.0) < PURGE_INTERVAL_SECONDS:
        return
    last_purge[partition] = now
    ledger.purge(_micros_now(), shard=partition)


def _add_correlate(
    app: faust.App, settings: Settings, topics: ProcessorTopics, codec: AvroCodec
) -> None:
    buffers = [
        TableBuffer(_json_table(app, name, 1))
        for name in (
            "identity-graph",
            "account-profiles",
            "record-versions",
            "usage-daily",
        )
    ]
    correlator = Correlator(CorrelatorStores(*buffers), settings.processors)
    journal = OutputJournal(
        _json_table(app, "correlate-outputs", 1),
        settings.processors.output_journal_span,
    )

    @app.agent(topics.deduplicated, name="correlate")
    async def correlate(stream: Any) -> Any:
        async for record in stream.events():
            message = record.message
            event = _read_event(codec, message, "correlate")
            if event is None:
                continue
            with stage_span(
                "correlate",
                message.headers,
                event.get("trace_context"),
                record_attributes(message, event, settings.processors.app_id),
            ) as trace_context:
                # 1. outputs of the first pass when this record was processed before
                outputs = journal.replayed(message.offset)
                if outputs is None:
                    # 2. otherwise process it against the buffered tables
                    correlated = _correlated(correlator, buffers, event, message)
                    record_correlation(
                        event, correlated, topics.enriched.get_topic_name()
                    )
                    outputs = _encoded(codec, correlated, message.value, trace_context)
                    # 3. the event's state changes, then its outputs, to the tables
                    for buffer in buffers:
                        buffer.flush()
                    journal.record(message.offset, outputs)
                # 4. publish
                for role, key, value, own_headers in outputs:
                    await _topic_of(topics, role).send(
                        key=key.encode(),
                        value=value,
                        headers=as_headers({**trace_context, **own_headers}),
                    )
            yield event["event_id"]


def _correlated(
    correlator: Correlator,
    buffers: list[TableBuffer],
    event: Mapping[str, Any],
    message: Any,
) -> list[tuple[str, str, dict[str, Any]]]:
    try:
        return correlator.process(event)
    except Exception:
        # A bug or an unexpected payload must not stop every account's processing;
        # the record stays on the topic for a replay once fixed, and the half-made
        # changes of the event are dropped.
        for buffer in buffers:
            buffer.discard()
        logger.exception(
            "correlate skipped event %s at %s[%s]@%s",
            event.get("event_id"),
            message.topic,
            message.partition,
            message.offset,
        )
        return []


def _topic_of(topics: ProcessorTopics, role: str) -> faust.TopicT:
    if role == ENRICHED:
        return topics.enriched
    if role == LATE:
        return topics.late
    return topics.notices


def _encoded(
    codec: AvroCodec,
    outputs: list[tuple[str, str, dict[str, Any]]],
    event_bytes: bytes,
    trace_context: Mapping[str, str],
) -> list[tuple[str, str, bytes, dict[str, str]]]:
    """The correlator's outputs as records to send: (role, key, value, own headers).

    A late event goes to the late-events topic as it came, with its reason in the
    ``late-reason`` header, so it can be inspected and replayed unchanged.
    """
    encoded = []
    for role, key, value in outputs:
        if role == LATE:
            encoded.append(
                (role, key, event_bytes, {LATE_REASON_HEADER: value["reason"]})
            )
            continue
        subject = ENRICHED_EVENT if role == ENRICHED else PROCESSING_NOTICE
        if role == ENRICHED:
            value = {**value, "trace_context": dict(trace_context)}
        try:
            encoded.append((role, key, codec.encode(subject, value), {}))
        except (ValueError, TypeError) as exc:
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
