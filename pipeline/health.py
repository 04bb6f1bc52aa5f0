"""Liveness and readiness of a long-running process, for orchestrators' probes.

Two paths, the same in every process:

* ``GET /health/live``: 200 while the process serves requests at all. An orchestrator
  restarts a process that stops answering it;
* ``GET /health/ready``: 200 when every dependency the process needs answers (Kafka;
  for the Odoo sink also Odoo), else 503 with the failing checks named. An orchestrator
  stops routing to (or waits for) a process that is not ready, but does not restart it:
  a broker outage must not turn into a restart storm.

Check results are cached for a few seconds, so probes at any rate cost the broker and
Odoo at most one request per interval. The body names the checks and whether they
passed, never an address or a credential.

The webhook server adds ``health_routes`` to its Starlette app; the Odoo sink, which has
no HTTP server of its own, runs ``HealthServer`` in a thread; the processors add Faust
web views (``processors/health_views.py``).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
from confluent_kafka.admin import AdminClient
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from eventbus.kafka_config import admin_config
from pipeline.settings import KafkaSettings, OdooSettings

logger = logging.getLogger(__name__)

LIVE_PATH = "/health/live"
READY_PATH = "/health/ready"
CHECK_TIMEOUT_SECONDS = 3.0
CACHE_SECONDS = 5.0

Check = Callable[[], bool]


def kafka_check(kafka: KafkaSettings, timeout: float = CHECK_TIMEOUT_SECONDS) -> Check:
    """True when the cluster answers a metadata request with at least one broker."""
    admin = AdminClient(admin_config(kafka))

    def kafka_answers() -> bool:
        try:
            return bool(admin.list_topics(timeout=timeout).brokers)
        except Exception:  # noqa: BLE001 - any failure means "not reachable"
            return False

    return kafka_answers


def odoo_check(odoo: OdooSettings, timeout: float = CHECK_TIMEOUT_SECONDS) -> Check:
    """True when Odoo answers its unauthenticated version call.

    ``common.version`` over ``/jsonrpc`` is served by every Odoo the sink supports and
    needs no credential, so the probe neither logs in nor spends the API key's rate.
    """
    request = {
        "jsonrpc": "2.0",
        "method": "call",
        "id": 1,
        "params": {"service": "common", "method": "version", "args": []},
    }

    def odoo_answers() -> bool:
        try:
            response = httpx.post(f"{odoo.url}/jsonrpc", json=request, timeout=timeout)
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and "error" not in response.json()

    return odoo_answers


@dataclass
class Readiness:
    """Named checks, each run at most once per ``cache_seconds``."""

    checks: Mapping[str, Check]
    cache_seconds: float = CACHE_SECONDS
    _results: dict[str, tuple[float, bool]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def report(self) -> dict[str, bool]:
        with self._lock:
            return {
                name: self._result(name, check) for name, check in self.checks.items()
            }

    def _result(self, name: str, check: Check) -> bool:
        now = time.monotonic()
        cached = self._results.get(name)
        if cached is not None and now - cached[0] < self.cache_seconds:
            return cached[1]
        passed = check()
        if not passed and (cached is None or cached[1]):
            logger.warning("readiness check %s failing; reporting not ready", name)
        self._results[name] = (now, passed)
        return passed


def ready_answer(readiness: Readiness) -> tuple[int, dict[str, object]]:
    """Status code and body of ``/health/ready``."""
    checks = readiness.report()
    ready = all(checks.values())
    return (200 if ready else 503), {"ready": ready, "checks": checks}


def health_routes(readiness: Readiness) -> list[Route]:
    """Starlette routes for an app that already serves HTTP (the webhook server)."""

    async def live(request: Request) -> JSONResponse:
        return JSONResponse({"live": True})

    async def ready(request: Request) -> JSONResponse:
        # The checks block (librdkafka, httpx); off the event loop, so a slow broker
        # never stalls the webhook requests being served at the same time.
        from starlette.concurrency import run_in_threadpool

        status, body = await run_in_threadpool(ready_answer, readiness)
        return JSONResponse(body, status_code=status)

    return [
        Route(LIVE_PATH, live, methods=["GET"]),
        Route(READY_PATH, ready, methods=["GET"]),
    ]


class HealthServer:
    """The two paths on their own port, served from a daemon thread."""

    def __init__(self, host: str, port: int, readiness: Readiness) -> None:
        self._server = ThreadingHTTPServer((host, port), _handler_for(readiness))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="health-server", daemon=True
        )

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> None:
        self._thread.start()
        logger.info("health endpoints on port %d", self.port)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler_for(readiness: Readiness) -> type[BaseHTTPRequestHandler]:
    class HealthRequest(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
            if self.path == LIVE_PATH:
                self._answer(200, {"live": True})
            elif self.path == READY_PATH:
                self._answer(*ready_answer(readiness))
            else:
                self._answer(404, {"error": "not found"})

        def _answer(self, status: int, body: Mapping[str, object]) -> None:
            encoded = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(encoded)))
            self.end_headers()
            self.wfile.write(encoded)

        def log_message(self, format: str, *args: object) -> None:
            # Probes arrive every few seconds; one access line each would drown the log.
            return

    return HealthRequest


def probe_main(argv: list[str] | None = None) -> int:
    """``python -m pipeline.health --port N [--path P]``: exit 0 when the local probe
    answers 200. For exec probes of a process that binds loopback only (Faust's web
    server), where the orchestrator cannot reach the port from outside the container.
    """
    import argparse

    parser = argparse.ArgumentParser(prog="python -m pipeline.health")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", choices=[LIVE_PATH, READY_PATH], default=READY_PATH)
    args = parser.parse_args(argv)
    try:
        response = httpx.get(
            f"http://127.0.0.1:{args.port}{args.path}", timeout=CHECK_TIMEOUT_SECONDS
        )
    except httpx.HTTPError as error:
        print(f"{args.path}: {type(error).__name__}")
        return 1
    print(f"{args.path}: {response.status_code} {response.text}")
    return 0 if response.status_code == 200 else 1


if __name__ == "__main__":
    raise SystemExit(probe_main())
