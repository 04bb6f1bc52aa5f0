"""``/health/live`` and ``/health/ready`` on the processors' Faust web server.

The worker already serves Faust's web views on 127.0.0.1:``web_port``; the probes join
them there. Live answers while the worker's event loop runs; ready once the worker has
finished starting (tables recovered, agents running) and while the cluster answers a
metadata request (``pipeline.health``). The web server answers earlier than that, and a
worker stopped before it finished starting does not stop cleanly.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import faust

from pipeline.health import LIVE_PATH, READY_PATH, Readiness, kafka_check, ready_answer
from pipeline.settings import Settings


def add_health_views(app: faust.App, settings: Settings) -> None:
    """Register the two probe paths on ``app``'s web server."""
    started = threading.Event()
    readiness = Readiness(
        {"kafka": kafka_check(settings.kafka), "started": started.is_set}
    )

    # Faust runs app tasks only after table recovery, as the last step of starting.
    @app.task
    async def mark_started() -> None:
        started.set()

    @app.page(LIVE_PATH, name="health-live")
    async def live(view: faust.web.View, request: faust.web.Request) -> Any:
        return view.json({"live": True})

    @app.page(READY_PATH, name="health-ready")
    async def ready(view: faust.web.View, request: faust.web.Request) -> Any:
        # The check blocks in librdkafka; the agents share this loop, so it runs in a
        # thread instead.
        status, body = await asyncio.get_running_loop().run_in_executor(
            None, ready_answer, readiness
        )
        return view.json(body, status=status)
