"""A webhook refused with 401 shows on the served ``pipeline_rejects_total``."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from devstack.local_kafka import free_port

pytestmark = pytest.mark.integration

# The webhook endpoint with metrics served, as `pipeline webhooks` runs it; two unsigned
# requests and one with a wrong signature. Nothing is published on the 401 path, and
# nothing listens at the bootstrap address.
ENDPOINT_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from starlette.testclient import TestClient
    from pipeline.settings import Settings
    from producers.webhooks import build_webhook_app
    from telemetry.metrics_endpoint import MetricsSettings, serve_metrics

    port = serve_metrics("webhooks", MetricsSettings(port=int(sys.argv[1])))
    assert port, "metrics endpoint did not start"
    settings = Settings(kafka={"bootstrap_servers": "127.0.0.1:9"})
    with TestClient(build_webhook_app(settings, publisher=None)) as client:
        statuses = [
            client.post("/webhooks/billing", content=b"{}").status_code,
            client.post("/webhooks/billing", content=b"{}").status_code,
            client.post(
                "/webhooks/product",
                content=b"{}",
                headers={"X-Signature": f"t={int(time.time())},v1=00"},
            ).status_code,
        ]
    assert statuses == [401, 401, 401], statuses
    print("ready", flush=True)
    time.sleep(120)
    """
)


def _scrape(port: int, deadline: float) -> str:
    while True:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_refused_signatures_are_counted_per_source_as_bad_signature() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", ENDPOINT_SCRIPT, str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        page = _scrape(port, time.monotonic() + 10)
    finally:
        process.terminate()
        process.wait(timeout=10)

    families = {f.name: f for f in text_string_to_metric_families(page)}
    counted = {
        (sample.labels["source"], sample.labels["reason"]): sample.value
        for sample in families["pipeline_rejects"].samples
        if sample.name == "pipeline_rejects_total"
    }
    assert counted == {
        ("/webhooks/billing", "bad_signature"): 2,
        ("/webhooks/product", "bad_signature"): 1,
    }
