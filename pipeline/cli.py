"""The ``pipeline`` command line: one entry point for every stage and the demo job.

Stages: ``ingest`` / ``webhooks`` (producers), ``process`` (Faust processors), ``sink`` /
``replay`` (Odoo sink). Operations: ``topics``, ``kafka``, ``standin``, ``settings``,
``demo``, ``trace``.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from pipeline.settings import load_settings
from telemetry import configure_logging

app = typer.Typer(
    help="Event-streaming pipeline from billing, product analytics, helpdesk and CRM "
    "systems through Apache Kafka into Odoo. Settings come from PIPELINE_* environment "
    "variables (see `pipeline settings`).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
kafka_app = typer.Typer(help="A local single-node Kafka broker for development.")
app.add_typer(kafka_app, name="kafka")

logger = logging.getLogger("pipeline")


@app.callback()
def main(
    log_level: Annotated[
        str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")
    ] = "INFO",
) -> None:
    configure_logging(log_level.upper())


@app.command("settings")
def show_settings() -> None:
    """Print the effective settings as JSON, secrets redacted."""
    print(json.dumps(load_settings().redacted(), indent=2, default=str))


@app.command("demo")
def demo(
    corpus: Annotated[
        Path,
        typer.Option(help="Corpus directory (billing/, product/, helpdesk/, crm/)."),
    ] = Path("../shared/samples"),
    state_dir: Annotated[
        Path,
        typer.Option(help="Where the demo keeps Kafka data, the Odoo database, logs."),
    ] = Path(".state/demo"),
    keep_running: Annotated[
        bool, typer.Option(help="Leave Kafka and the stand-in running afterwards.")
    ] = False,
) -> None:
    """Start Kafka and the Odoo stand-in, run every stage on CORPUS, print a summary and
    compare Odoo's end state with the corpus's expected.json (exit 1 on any difference)."""
    from pipeline.demo import CorpusError, run_demo

    if not corpus.exists():
        typer.echo(f"error: corpus directory {corpus} does not exist", err=True)
        raise typer.Exit(2)
    if not corpus.is_dir():
        typer.echo(f"error: {corpus} is not a directory", err=True)
        raise typer.Exit(2)
    try:
        status = run_demo(corpus, state_dir, keep_running=keep_running)
    except CorpusError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    raise typer.Exit(status)


@app.command("trace")
def trace_event(
    query: Annotated[
        str,
        typer.Argument(
            help="An event id, a source object id or number (e.g. an invoice id or "
            "invoice number), a canonical account id or an Odoo external id."
        ),
    ],
    spans_file: Annotated[
        Path | None,
        typer.Option(
            help="Spans written by the stages (default: PIPELINE_TRACING__SPANS_FILE; "
            "the demo writes <state-dir>/spans.jsonl)."
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option(help="Print at most this many traces, newest last.")
    ] = 20,
) -> None:
    """Print the span tree of every business event matching QUERY, hop by hop, with
    timings and each hop's outcome (exit 1 when nothing matches)."""
    from telemetry.trace_view import (
        TraceIndex,
        final_outcomes,
        load_spans,
        matching_traces,
        render_trace,
    )

    path = spans_file or load_settings().tracing.spans_file
    if not path.exists():
        typer.echo(
            f"no spans file at {path}; the demo writes <state-dir>/spans.jsonl "
            "(e.g. --spans-file .state/demo/spans.jsonl)",
            err=True,
        )
        raise typer.Exit(1)
    index = TraceIndex.of(load_spans(path))
    found = matching_traces(index, query)
    if not found:
        typer.echo(f"no trace in {path} matches {query!r}", err=True)
        raise typer.Exit(1)
    shown = found[-limit:]
    typer.echo(f"{len(found)} trace(s) match {query!r}; showing {len(shown)}\n")
    for trace_id in shown:
        typer.echo("\n".join(render_trace(index, trace_id)))
        outcomes = ", ".join(final_outcomes(index, trace_id)) or "none recorded"
        typer.echo(f"  => outcome: {outcomes}\n")


@kafka_app.command("start")
def kafka_start(
    data_dir: Annotated[Path, typer.Option(help="Broker storage and logs.")] = Path(
        ".state/kafka"
    ),
    port: Annotated[
        int | None, typer.Option(help="Port on 127.0.0.1 (default: free).")
    ] = None,
) -> None:
    """Fetch the broker from Maven Central (once), format storage, start it in the
    background and print its bootstrap address."""
    from devstack.local_kafka import LocalKafka, LocalKafkaError

    broker = LocalKafka(data_dir=data_dir, port=port)
    try:
        print(broker.recorded_bootstrap() or broker.start(detach=True))
    except LocalKafkaError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


@kafka_app.command("stop")
def kafka_stop(
    data_dir: Annotated[Path, typer.Option(help="Broker storage and logs.")] = Path(
        ".state/kafka"
    ),
) -> None:
    """Stop the broker started with `pipeline kafka start`."""
    from devstack.local_kafka import LocalKafka

    LocalKafka(data_dir=data_dir).stop()


def topics_create() -> None:
    """Create every pipeline topic that does not exist yet (idempotent)."""
    from confluent_kafka import KafkaException

    from eventbus.topic_admin import ensure_topics
    from eventbus.topics_cli import require_kafka

    settings = load_settings()
    require_kafka(settings)
    try:
        created = ensure_topics(settings)
    except KafkaException as exc:
        # Typically the user lacks the right to create topics; the reason says so.
        typer.echo(f"error: topics not created: {exc.args[0]}", err=True)
        raise typer.Exit(1) from None
    print("\n".join(created) if created else "all topics exist")


@app.command("standin")
def standin(
    db: Annotated[Path, typer.Option(help="SQLite file of the stand-in.")] = Path(
        ".state/odoo-standin.sqlite"
    ),
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8069,
) -> None:
    """Run the Odoo-protocol stand-in (development only: it is not Odoo) with the
    database name and API key from the PIPELINE_ODOO__* settings."""
    import os

    odoo = load_settings().odoo
    command = [
        sys.executable,
        "-m",
        "odoo_standin",
        "--db",
        str(db),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--database",
        odoo.database,
        "--login",
        odoo.login,
    ]
    # The key travels in the environment, not argv, so `ps` does not show it.
    env = {**os.environ, "ODOO_STANDIN_API_KEY": odoo.api_key.get_secret_value()}
    # Become the server process, so signals sent to this command reach the server.
    os.execvpe(command[0], command, env)


def _mount_stage_commands() -> None:
    """Add the stage commands each package defines next to its code."""
    from eventbus.topics_cli import app as topics_app
    from loadgen.cli import app as loadgen_app
    from processors.cli import app as processors_app
    from producers.cli import app as producers_app
    from schemas.cli import app as schemas_app
    from sinks.cli import app as sinks_app

    for stage_app in (producers_app, processors_app, sinks_app):
        app.add_typer(stage_app)
    topics_app.command("create")(topics_create)
    app.add_typer(topics_app, name="topics")
    app.add_typer(schemas_app, name="schemas")
    app.add_typer(loadgen_app, name="loadgen")


_mount_stage_commands()


def run() -> None:
    """The ``pipeline`` command.

    Settings that do not validate end in one line and exit 2. Kafka failing in the
    middle of a command (the broker went away after the command's first check) ends in
    one line and exit 1, with the traceback logged at debug level.
    """
    from confluent_kafka import KafkaException

    from pipeline.settings import SettingsError

    try:
        app()
    except SettingsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None
    except KafkaException as exc:
        logger.debug("the command stopped on a Kafka error", exc_info=exc)
        typer.echo(
            f"error: Kafka failed while the command ran ({_kafka_reason(exc)}); it "
            "stopped there. Run it again once the broker answers (--log-level DEBUG "
            "shows where it stopped).",
            err=True,
        )
        raise SystemExit(1) from None


def _kafka_reason(exc: Exception) -> str:
    error = exc.args[0] if exc.args else None
    return error.str() if hasattr(error, "str") else str(exc)


if __name__ == "__main__":
    run()
