"""``schemas check``: refuse a schema change that breaks its compatibility mode.

A Typer sub-application (``app``); the ``pipeline`` command can mount it, and
``python -m schemas.cli check`` runs it alone.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer

from schemas import SCHEMA_DIR
from schemas.check import (
    MODES_FILE,
    REPO_ROOT,
    Outcome,
    SchemaCheckError,
    check_folders,
    export_revision,
)

app = typer.Typer(
    help="Avro schema governance: compatibility of each schema with its last version.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def schemas_group() -> None:
    """Avro schema governance: compatibility of each schema with its last version."""
    # A callback keeps ``check`` a sub-command even while it is the only one.


@app.command("check")
def check_command(
    against: Annotated[
        str,
        typer.Option(
            "--against",
            help="Git revision holding the previous versions (a commit, branch, tag).",
        ),
    ] = "HEAD",
    verbose: Annotated[
        bool, typer.Option("--verbose", help="Also list the schemas that pass.")
    ] = False,
) -> None:
    """Compare every schemas/*.avsc in the working tree with its version at --against.

    Each schema is checked under its mode in schemas/compatibility.toml (BACKWARD
    unless listed). Exits 1 naming the schema, the field and the broken rule when a
    change is incompatible or a schema was removed; 0 otherwise.
    """
    with tempfile.TemporaryDirectory(prefix="schemas-") as scratch:
        previous = Path(scratch)
        try:
            export_revision(
                against, previous, repo_root=REPO_ROOT, schema_dir=SCHEMA_DIR
            )
            verdicts = check_folders(SCHEMA_DIR, previous, MODES_FILE)
        except SchemaCheckError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc

    refused = [verdict for verdict in verdicts if verdict.refused]
    for verdict in verdicts:
        if verdict.outcome is Outcome.REMOVED:
            typer.echo(
                f"REFUSED {verdict.file} ({verdict.mode}): removed, records written "
                "with it could no longer be read"
            )
        for problem in verdict.problems:
            typer.echo(f"REFUSED {verdict.file} ({verdict.mode}): {problem}")
        if verbose and not verdict.refused:
            typer.echo(f"ok      {verdict.file} ({verdict.mode}): {verdict.outcome}")
    if refused:
        typer.echo(f"{len(refused)} schema(s) break their mode against {against}")
        raise typer.Exit(1)
    typer.echo(f"{len(verdicts)} schema(s) compatible with {against}")
    _check_registry_if_configured()


def _check_registry_if_configured() -> None:
    """With PIPELINE_KAFKA__SCHEMA_REGISTRY_URL set, also ask the registry."""
    from pipeline.settings import load_settings

    url = load_settings().kafka.schema_registry_url
    if not url:
        return
    from confluent_kafka.schema_registry import SchemaRegistryClient

    from eventbus.avro_codec import AvroCodec
    from schemas.registry_check import registry_problems

    codec = AvroCodec()
    problems = registry_problems(
        SchemaRegistryClient({"url": url}), codec, codec.subjects()
    )
    for problem in problems:
        typer.echo(f"REFUSED by the registry: {problem}")
    if problems:
        raise typer.Exit(1)
    typer.echo("the Schema Registry accepts every current schema")


if __name__ == "__main__":
    app()
