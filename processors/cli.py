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

    deduplicate: reads source.billing, source.product, source.helpdesk and source.crm,
    drops redeliveries of an already accepted event id (a duplicate notice goes to
    processing.notices) and passes first deliveries to processing.deduplicated.

    correlate: reads processing.deduplicated, joins source identifiers into canonical
    accounts, keeps the newest snapshot of every record, invoice payment state and
    daily usage, and publishes them keyed by canonical account id to
    enriched.accounts (late snapshots become notices).

    Settings come from PIPELINE_* variables: PIPELINE_KAFKA__BOOTSTRAP_SERVERS,
    PIPELINE_KAFKA__TOPIC_PREFIX, PIPELINE_PROCESSORS__APP_ID (consumer group and
    table names), PIPELINE_PROCESSORS__STATE_DIR (local table state),
    PIPELINE_PROCESSORS__WEB_PORT, PIPELINE_PROCESSORS__DEDUP_RETENTION_DAYS.
    """
    from processors.worker import run_worker
    from telemetry.tracing import configure_tracing, shutdown_tracing

    settings = load_settings()
    configure_tracing("processors", settings.tracing.spans_file)
    try:
        run_worker(settings)
    finally:
        shutdown_tracing()
