"""Command line of the Odoo sink: ``sink`` runs it, ``replay`` re-applies a stretch.

Mounted as a sub-app by ``pipeline/cli.py``; settings come from the environment
(``PIPELINE_...``) and ``PIPELINE_CONFIG_FILE``, see pipeline/settings.py.
"""

from __future__ import annotations

import json
import logging
import signal
from datetime import datetime
from enum import StrEnum
from types import FrameType
from typing import Annotated

import typer

from pipeline.settings import Settings, load_settings

logger = logging.getLogger(__name__)

# Exit status of an operator command that cannot do its work (docs/operations.md).
CANNOT_RUN = 2

app = typer.Typer(
    help="Write enriched account records into Odoo, and replay them.",
    no_args_is_help=True,
)


@app.command("sink")
def run_sink(
    until_idle: Annotated[
        float | None,
        typer.Option(
            "--until-idle",
            metavar="SECONDS",
            help="Stop after no record arrived for this many seconds (demos, tests). "
            "Without it the sink runs until SIGTERM or Ctrl-C.",
        ),
    ] = None,
    health_port: Annotated[
        int | None,
        typer.Option(
            help="Serve GET /health/live and /health/ready at this port "
            "(ready: Kafka and Odoo answer). Without it no probe server runs.",
        ),
    ] = None,
    health_host: Annotated[
        str,
        typer.Option(help="Address of the probe server (0.0.0.0 in a container)."),
    ] = "127.0.0.1",
) -> None:
    """Consume the enriched topic into Odoo, committing only what Odoo accepted."""
    from pipeline.health import HealthServer, Readiness, kafka_check, odoo_check
    from sinks.consumer import OdooSink
    from sinks.odoo import make_client
    from sinks.odoo.traced_client import TracedOdooClient
    from telemetry.metrics_endpoint import serve_metrics
    from telemetry.tracing import configure_tracing, shutdown_tracing

    settings = load_settings()
    logger.info("settings %s", json.dumps(settings.redacted()))
    configure_tracing("odoo-sink", settings.tracing.spans_file)
    serve_metrics("odoo-sink")
    client = TracedOdooClient(make_client(settings.odoo), settings.odoo.url)
    sink = OdooSink(settings, client)

    def stop(signum: int, frame: FrameType | None) -> None:
        logger.info("signal %s: finishing the current batch", signum)
        sink.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    health = None
    if health_port is not None:
        checks = {
            "kafka": kafka_check(settings.kafka),
            "odoo": odoo_check(settings.odoo),
        }
        health = HealthServer(health_host, health_port, Readiness(checks))
        health.start()
    try:
        stats = sink.run(stop_when_idle_seconds=until_idle)
    finally:
        if health is not None:
            health.stop()
        client.close()
        shutdown_tracing()
    typer.echo(json.dumps(stats.summary(), indent=2))


@app.command("replay")
def run_replay(
    from_offset: Annotated[
        int | None,
        typer.Option(help="Start every chosen partition at this offset."),
    ] = None,
    to_offset: Annotated[
        int | None,
        typer.Option(
            help="Stop before this offset in every chosen partition (with "
            "--from-offset: an offset range). Default: the end when the replay starts."
        ),
    ] = None,
    from_time: Annotated[
        datetime | None,
        typer.Option(
            help="Start at the first record at or after this ISO-8601 time "
            "(a time without offset is read as UTC).",
            formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"],
        ),
    ] = None,
    partition: Annotated[
        list[int] | None,
        typer.Option(help="Replay only this partition (repeat for several)."),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Write nothing: count the records that would be re-applied and list "
            "the Odoo external ids they touch.",
        ),
    ] = False,
    rewrite_same_version: Annotated[
        bool,
        typer.Option(
            "--rewrite-same-version",
            help="Also rewrite records Odoo holds at the same version (repair after "
            "a deploy wrote wrong values); older versions are still never written.",
        ),
    ] = False,
) -> None:
    """Re-apply the enriched topic to Odoo from an offset or a time (default: all).

    Safe while the sink runs: its own consumer leaves the sink's offsets alone.

    Safe to repeat: records Odoo holds at the same or a newer version are skipped.
    """
    from datetime import UTC

    from sinks.odoo import make_client
    from sinks.replay import ReplayError, replay

    if from_time is not None and from_time.tzinfo is None:
        from_time = from_time.replace(tzinfo=UTC)
    settings = load_settings()
    _require_kafka(settings)
    client = make_client(settings.odoo)
    try:
        report = replay(
            settings,
            from_offset=from_offset,
            to_offset=to_offset,
            from_timestamp=from_time,
            partitions=partition or None,
            dry_run=dry_run,
            client=client,
            rewrite_same_version=rewrite_same_version,
        )
    except ReplayError as error:
        typer.echo(f"replay failed: {error}", err=True)
        raise typer.Exit(code=CANNOT_RUN) from error
    finally:
        client.close()
    typer.echo(json.dumps(report.summary(), indent=2))


deadletters_app = typer.Typer(
    help="Dead letters: list those of the Odoo sink or of ingest, send the sink's "
    "chosen ones through again.",
    no_args_is_help=True,
)
app.add_typer(deadletters_app, name="deadletters")


class DeadLetterTopic(StrEnum):
    """Which dead-letter topic ``deadletters list`` reads."""

    SINK = "sink"
    INGEST = "ingest"


@deadletters_app.command("list")
def list_dead_letters(
    topic: Annotated[
        DeadLetterTopic,
        typer.Option(
            help="sink: records Odoo refused (deadletter.sink). ingest: inputs the "
            "adapters refused (deadletter.ingest), by source file and line or webhook."
        ),
    ] = DeadLetterTopic.SINK,
) -> None:
    """Counts per error class or reason, then one line per dead letter.

    Never prints values, payloads or error messages: they can hold personal data.
    """
    from sinks.dead_letters import (
        DeadLetterError,
        counts_by_error_class,
        read_dead_letters,
    )

    settings = load_settings()
    _require_kafka(settings)
    if topic is DeadLetterTopic.INGEST:
        _list_rejected_inputs(settings)
        return
    try:
        letters = read_dead_letters(settings)
    except DeadLetterError as error:
        typer.echo(f"cannot read dead letters: {error}", err=True)
        raise typer.Exit(code=CANNOT_RUN) from error
    _print_dead_letter_report(
        "by_error_class",
        counts_by_error_class(letters),
        [letter.listing() for letter in letters],
    )


def _list_rejected_inputs(settings: Settings) -> None:
    from producers.rejected_inputs import (
        RejectedInputReadError,
        counts_by_reason,
        read_rejected_inputs,
    )

    try:
        rejections = read_rejected_inputs(settings)
    except RejectedInputReadError as error:
        typer.echo(f"cannot read ingest dead letters: {error}", err=True)
        raise typer.Exit(code=CANNOT_RUN) from error
    _print_dead_letter_report(
        "by_reason",
        counts_by_reason(rejections),
        [rejection.listing() for rejection in rejections],
    )


def _print_dead_letter_report(
    counts_key: str, counts: dict[str, int], listings: list[dict[str, object]]
) -> None:
    """Both dead-letter topics list in one shape, so operators read them alike."""
    report = {"total": len(listings), counts_key: counts, "dead_letters": listings}
    typer.echo(json.dumps(report, indent=2))


@deadletters_app.command("redrive")
def redrive_dead_letters(
    offset: Annotated[
        list[int] | None,
        typer.Option(help="Re-drive the dead letter at this offset (repeatable)."),
    ] = None,
    error_class: Annotated[
        str | None,
        typer.Option(help="Re-drive the dead letters of this error class."),
    ] = None,
    redrive_all: Annotated[
        bool, typer.Option("--all", help="Re-drive every retained dead letter.")
    ] = False,
) -> None:
    """Produce chosen dead letters back to the enriched topic for the sink.

    Harmless to repeat: the sink skips versions Odoo already holds.
    """
    from sinks.dead_letters import DeadLetterError, choose, read_dead_letters, redrive

    settings = load_settings()
    _require_kafka(settings)
    try:
        letters = choose(
            read_dead_letters(settings),
            offsets=offset,
            error_class=error_class,
            everything=redrive_all,
        )
        report = redrive(settings, letters)
    except DeadLetterError as error:
        typer.echo(f"re-drive failed: {error}", err=True)
        raise typer.Exit(code=CANNOT_RUN) from error
    typer.echo(json.dumps(report.summary(), indent=2))


@app.command("reconcile")
def run_reconcile() -> None:
    """Compare the state the enriched topic implies with Odoo, per account.

    Prints missing, stale and extra records; exits 1 when there is any.
    """
    from sinks.odoo import make_client
    from sinks.reconcile import reconcile
    from sinks.topic_reading import TopicReadError

    settings = load_settings()
    _require_kafka(settings)
    client = make_client(settings.odoo)
    try:
        report = reconcile(settings, client)
    except TopicReadError as error:
        typer.echo(f"reconcile failed: {error}", err=True)
        raise typer.Exit(code=CANNOT_RUN) from error
    finally:
        client.close()
    typer.echo(json.dumps(report.summary(), indent=2))
    if report.exception_count:
        raise typer.Exit(code=1)


def _require_kafka(settings: Settings) -> None:
    """Exit with one line naming the bootstrap servers when Kafka does not answer."""
    from eventbus.broker_reachability import (
        KafkaUnreachableError,
        require_reachable_broker,
    )

    try:
        require_reachable_broker(settings.kafka)
    except KafkaUnreachableError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=CANNOT_RUN) from error
