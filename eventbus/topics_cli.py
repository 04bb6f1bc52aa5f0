"""``pipeline topics plan|apply``: converge the cluster's topics on ``deploy/topics.toml``.

A Typer sub-application; the ``pipeline`` command mounts it under ``topics``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from eventbus.broker_reachability import KafkaUnreachableError, require_reachable_broker
from eventbus.topic_plan import (
    DEFAULT_TOPICS_FILE,
    TopicApplyError,
    TopicChange,
    TopicPlanError,
    apply,
    load_declared,
    plan,
    refused_changes,
)
from pipeline.settings import Settings, load_settings

app = typer.Typer(
    help="Topics as code: compare the cluster with deploy/topics.toml and converge.",
    no_args_is_help=True,
    add_completion=False,
)

TopicsFile = Annotated[
    Path,
    typer.Option(
        "--file",
        help="Topic declaration (TOML). Names are relative to the topic prefix.",
    ),
]


@app.command("plan")
def plan_command(file: TopicsFile = DEFAULT_TOPICS_FILE) -> None:
    """Print the changes `apply` would make, one per line; change nothing.

    Exit status 0 when the cluster already matches, 2 when there are changes, 1 on an
    error (Kafka not answering among them: it must not read as drift). Changes marked
    "needs --force" add partitions to a keyed topic; changes marked "cannot change"
    (fewer partitions, another replication factor) are never made by this tool.
    """
    settings = load_settings()
    require_kafka(settings)
    changes = _planned(settings, file)
    if not changes:
        typer.echo("topics match the declaration: nothing to do")
        return
    _print(changes)
    raise typer.Exit(2)


@app.command("apply")
def apply_command(
    file: TopicsFile = DEFAULT_TOPICS_FILE,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Also add partitions to keyed topics. Existing keys then move to other "
            "partitions, so per-key ordering does not hold across the change.",
        ),
    ] = False,
) -> None:
    """Create missing topics, set differing configuration, add partitions (--force).

    Checks the whole plan first: if any change is refused (needs --force, or is
    impossible such as removing partitions) nothing is applied and the exit status is
    1. Running it again after success plans nothing.
    """
    settings = load_settings()
    require_kafka(settings)
    changes = _planned(settings, file)
    refused = refused_changes(changes, force)
    if refused:
        _print(refused)
        typer.echo("refused: nothing applied", err=True)
        raise typer.Exit(1)
    try:
        applied = apply(settings, changes, force=force)
    except (TopicPlanError, TopicApplyError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    if not applied:
        typer.echo("topics match the declaration: nothing to do")
        return
    for change in applied:
        typer.echo(f"applied: {change.describe()}")


def require_kafka(settings: Settings) -> None:
    """Exit 1 with one line naming the bootstrap servers when Kafka does not answer.

    1, not 2: for ``plan`` 2 means "the cluster differs", which an unreachable cluster
    must never be taken for.
    """
    try:
        require_reachable_broker(settings.kafka)
    except KafkaUnreachableError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc


def _planned(settings: Settings, file: Path) -> list[TopicChange]:
    try:
        return plan(settings, load_declared(settings, file))
    except TopicPlanError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc


def _print(changes: list[TopicChange]) -> None:
    for change in changes:
        typer.echo(change.describe())
