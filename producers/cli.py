"""``pipeline ingest`` and ``pipeline webhooks``: the producer stage's commands."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer

from pipeline.settings import load_settings

app = typer.Typer(
    help="Producer adapters: validate source inputs, map them to business events and "
    "publish them to the source topics (rejections to deadletter.ingest).",
    add_completion=False,
)

logger = logging.getLogger(__name__)


@app.command("ingest")
def ingest(
    corpus: Annotated[
        Path,
        typer.Option(
            help="Corpus directory laid out as billing/, product/, helpdesk/ and crm/ "
            "(see `pipeline ingest --help`); missing files are skipped.",
            exists=True,
            file_okay=False,
            dir_okay=True,
        ),
    ],
    ensure_topics: Annotated[
        bool, typer.Option(help="Create missing pipeline topics before publishing.")
    ] = False,
) -> None:
    """Publish every line of a corpus directory to Kafka.

    Accepted lines go to source.<system> keyed by source account id, rejected lines
    with their reason to deadletter.ingest. Files read: crm/companies.csv,
    crm/contacts.csv, helpdesk/organizations.jsonl, helpdesk/users.jsonl,
    billing/stripe_events.jsonl, product/segment_events.jsonl,
    helpdesk/zendesk_webhooks.jsonl. Prints the counts as JSON; exits 1 if Kafka did
    not acknowledge every record.
    """
    from producers.exceptions import PublishError
    from producers.ingest import ingest_corpus
    from telemetry.tracing import configure_tracing, shutdown_tracing

    settings = load_settings()
    logger.info("settings", extra={"settings": settings.redacted()})
    configure_tracing("producers", settings.tracing.spans_file)
    if ensure_topics:
        from eventbus.topic_admin import ensure_topics as create_missing_topics

        create_missing_topics(settings)
    try:
        report = ingest_corpus(corpus, settings)
    except PublishError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    finally:
        shutdown_tracing()
    typer.echo(json.dumps(report.as_log_fields(), indent=2, sort_keys=True))


@app.command("webhooks")
def webhooks() -> None:
    """Serve the signed webhook endpoint for billing, product and helpdesk senders.

    Routes: POST /webhooks/billing, /webhooks/product, /webhooks/helpdesk on
    PIPELINE_INGEST__WEBHOOK_HOST:PIPELINE_INGEST__WEBHOOK_PORT. Each request needs
    X-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>"> made with the route's
    secret from PIPELINE_INGEST__WEBHOOK_SECRETS. Answers 200 only after Kafka
    acknowledged the event, 400 with the reason for refused input (dead-lettered),
    401 for a bad signature, 413 for a body over the line limit, 503 when Kafka did
    not acknowledge.
    """
    import uvicorn

    from producers.publisher import EventPublisher
    from producers.webhooks import build_webhook_app
    from telemetry.metrics_endpoint import serve_metrics
    from telemetry.tracing import configure_tracing, shutdown_tracing

    settings = load_settings()
    logger.info("settings", extra={"settings": settings.redacted()})
    configure_tracing("producers", settings.tracing.spans_file)
    serve_metrics("webhooks")
    publisher = EventPublisher(settings)
    try:
        uvicorn.run(
            build_webhook_app(settings, publisher),
            host=settings.ingest.webhook_host,
            port=settings.ingest.webhook_port,
        )
    finally:
        publisher.close()
        shutdown_tracing()
