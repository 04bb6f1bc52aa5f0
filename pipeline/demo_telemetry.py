"""Traces and metrics of the demo job: every stage exports, nothing collides.

The demo ingests in its own process, next to whatever tracing that process already has
(a test session, for one), so the producers' spans go through a provider of their own
that writes to the demo's spans file and is shut down (flushed) when ingest ends. The
processors and the sink are child processes: they get a free metrics port each through
``PIPELINE_METRICS__PORTS``, and their endpoints are scraped into the state directory
before they are stopped, so a run leaves its final metrics behind.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx

from devstack.local_kafka import free_port
from pipeline.settings import Settings
from producers.ingest import IngestReport, ingest_corpus
from producers.publisher import EventPublisher
from telemetry.tracing import build_tracer_provider

logger = logging.getLogger(__name__)

# The services that run as child processes and serve metrics.
METERED_STAGES = ("processors", "odoo-sink")


def stage_metrics_ports() -> dict[str, int]:
    return {stage: free_port() for stage in METERED_STAGES}


def metrics_environment(ports: dict[str, int]) -> dict[str, str]:
    return {"PIPELINE_METRICS__PORTS": json.dumps(ports)}


def ingest_traced(corpus_dir: Path, settings: Settings) -> IngestReport:
    """Ingest ``corpus_dir`` with the producers' spans written to the spans file."""
    provider = build_tracer_provider("producers", settings.tracing.spans_file)
    publisher = EventPublisher(settings, tracer_provider=provider)
    try:
        return ingest_corpus(corpus_dir, settings, publisher=publisher)
    finally:
        publisher.close()
        provider.shutdown()


def scrape_stage_metrics(ports: dict[str, int], out_dir: Path) -> dict[str, Path]:
    """Save each stage's ``/metrics`` page as ``<stage>.prom``; unreachable ones skipped."""
    out_dir.mkdir(parents=True, exist_ok=True)
    saved: dict[str, Path] = {}
    for stage, port in ports.items():
        try:
            response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
            response.raise_for_status()
        except httpx.HTTPError as error:
            logger.warning("metrics of %s not scraped: %s", stage, error)
            continue
        saved[stage] = out_dir / f"{stage}.prom"
        saved[stage].write_text(response.text)
    logger.info("metrics saved", extra={"metrics_dir": str(out_dir)})
    return saved
