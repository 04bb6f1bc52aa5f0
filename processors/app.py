"""The Faust application: the deduplicate and correlate agents and their tables.

``deduplicate`` reads the four source topics with a dedup table co-partitioned with
them (a redelivery carries the same source account key, so it reaches the same
partition as its first delivery). First deliveries go on, byte for byte, to
``processing.deduplicated``; redeliveries become ``duplicate`` notices.

``correlate`` (``processors.correlate_agent``) reads ``processing.deduplicated``, holds
events in a reorder buffer, and publishes enriched records keyed by canonical account
id and late events.

A record that cannot be read or processed is logged with its topic, partition and
offset and skipped: one bad record never stops the worker.
"""

from __future__ import annotations

import logging
import ssl
import time
from typing import Any

import faust

from eventbus import AvroCodec, Topics
from pipeline.settings import KafkaSettings, Settings
from processors.consumer_lag import add_lag_reporter
from processors.correlate_agent import add_correlate
from processors.dedup import DedupLedger, Duplicate
from processors.health_views import add_health_views
from processors.memory_view import add_memory_view
from processors.notices import duplicate_notice
from processors.stage_records import PROCESSING_NOTICE, ProcessorTopics, read_event
from processors.table_memory import add_table_memory_reporter
from processors.table_store import store_options, store_url
from processors.tracing import (
    as_headers,
    record_attributes,
    record_duplicate,
    record_passed,
    stage_span,
)

logger = logging.getLogger(__name__)


# How often each partition's expired dedup identities are dropped.
PURGE_INTERVAL_SECONDS = 3600.0


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
    add_correlate(app, settings, topics, codec)
    add_health_views(app, settings)
    add_lag_reporter(app, processors.app_id)
    add_table_memory_reporter(app)
    add_memory_view(app)
    return app


def _json_table(app: faust.App, settings: Settings, name: str, partitions: int) -> Any:
    # Without model types Faust serialises keys and values of a table as JSON, which
    # is why every value the core stores is plain JSON data.
    return app.Table(
        name,
        partitions=partitions,
        key_type=str,
        options=store_options(settings.processors),
    )


def _add_deduplicate(
    app: faust.App, settings: Settings, topics: ProcessorTopics, codec: AvroCodec
) -> None:
    ledger_table = _json_table(app, settings, "dedup-ledger", settings.kafka.partitions)
    ledger = DedupLedger(ledger_table, settings.processors.dedup_retention_days)
    last_purge: dict[int, float] = {}

    @app.agent(topics.sources, name="deduplicate")
    async def deduplicate(stream: Any) -> Any:
        async for record in stream.events():
            message = record.message
            event = read_event(codec, message, "deduplicate")
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
