"""Running the processors' Faust worker from Python, without the ``faust`` command."""

from __future__ import annotations

import logging

import faust
from faust.worker import Worker

from eventbus.topic_admin import create_missing_topics, ensure_topics
from eventbus.topics import TopicSpec
from pipeline.settings import Settings
from processors.app import build_app

logger = logging.getLogger(__name__)


def run_worker(settings: Settings, loglevel: str = "INFO") -> None:
    """Start the deduplicate and correlate agents and block until stopped (SIGTERM or
    SIGINT stop the worker cleanly: offsets and table changelogs are flushed)."""
    # 1. topics with their intended partitions and retention (Faust would otherwise
    #    create missing ones with its own defaults)
    created = ensure_topics(settings)
    if created:
        logger.info("created topics", extra={"topics": created})
    # 2. local table state lives here between restarts
    settings.processors.state_dir.mkdir(parents=True, exist_ok=True)
    # 3. the agents, and the changelog topics of their tables: created before the
    #    worker joins its group, because a table checks its changelog's partitions
    #    against the group's metadata of that moment, and a changelog Faust creates
    #    only while starting is missing from it until the next rebalance
    app = build_app(settings)
    created = create_missing_topics(settings, changelog_specs(app))
    if created:
        logger.info("created changelog topics", extra={"topics": created})
    logger.info(
        "processors starting",
        extra={"app_id": settings.processors.app_id, "settings": settings.redacted()},
    )
    worker = Worker(app, loglevel=loglevel, override_logging=False)
    try:
        worker.execute_from_commandline()
    except SystemExit as exit_request:
        if exit_request.code not in (0, None):
            raise


def changelog_specs(app: faust.App) -> list[TopicSpec]:
    """The compacted changelog topic of every table of ``app``."""
    return [
        TopicSpec(
            table.changelog_topic.get_topic_name(),
            table.partitions,
            {"cleanup.policy": "compact"},
        )
        for table in app.tables.values()
    ]
