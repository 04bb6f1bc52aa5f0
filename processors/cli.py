"""``pipeline process``: the processor stage's command."""

from __future__ import annotations

import logging

import typer

from pipeline.settings import load_settings

app = typer.Typer(
    help="Stream processors: deduplicate source events and correlate them into "
    "canonical accounts.",
    add_completion=False,
)

logger = logging.getLogger(__name__)


@app.command("process")
def process() -> None:
    """Run the Faust stream processors until stopped (Ctrl-C or SIGTERM).

    deduplicate: reads the four source topics (source.billing,
    source.product, source.helpdesk, source.crm), drops redeliveries
    of an event id it already accepted (with a duplicate notice on
    processing.notices) and passes first deliveries on to
    processing.deduplicated.

    correlate: reads processing.deduplicated, holds events in a
    reorder buffer so each account's events apply in event-time order,
    joins source identifiers into canonical accounts, keeps the newest
    snapshot of every record, invoice payment state and daily usage,
    and publishes them to enriched.accounts keyed by canonical account
    id (snapshots older than the applied one go to processing.late
    with the reason).

    Settings (PIPELINE_* variables): KAFKA__BOOTSTRAP_SERVERS,
    KAFKA__TOPIC_PREFIX, PROCESSORS__APP_ID (consumer group and table
    names), PROCESSORS__STATE_DIR (local table state),
    PROCESSORS__WEB_PORT, PROCESSORS__DEDUP_RETENTION_DAYS,
    PROCESSORS__REORDER_HOLD_SECONDS, PROCESSORS__REORDER_MAX_PER_ACCOUNT,
    PROCESSORS__REORDER_DEPENDENCY_WAIT_SECONDS.
    """
    from processors.worker import run_worker
    from telemetry.metrics_endpoint import serve_metrics
    from telemetry.tracing import configure_tracing, shutdown_tracing

    settings = load_settings()
    configure_tracing("processors", settings.tracing.spans_file)
    serve_metrics("processors")
    try:
        run_worker(settings)
    finally:
        shutdown_tracing()
