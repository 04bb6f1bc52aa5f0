"""Running the processors' Faust worker from Python, without the ``faust`` command."""

from __future__ import annotations

import logging

from faust.worker import Worker

from eventbus.topic_admin import ensure_topics
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
    # 3. the agents, until a signal stops them
    app = build_app(settings)
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
