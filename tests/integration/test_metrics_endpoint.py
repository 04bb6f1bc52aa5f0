"""Processes serving metrics: scrape their endpoint over HTTP and read what it counted.

Each test runs a short script in its own process (the metrics registry is global per
process), waits for it to print ``ready``, then scrapes ``/metrics`` once.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import httpx
import pytest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from devstack.local_kafka import free_port
from telemetry.metrics import ALL_METRICS

pytestmark = pytest.mark.integration

# Records one value of every metric through the functions the stages call, the way a
# stage would, then keeps serving until the test stops it.
STAGE_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from telemetry import metrics as m
    from telemetry.metrics_endpoint import MetricsSettings, serve_metrics

    port = serve_metrics("odoo-sink", MetricsSettings(port=int(sys.argv[1])))
    assert port, "metrics endpoint did not start"
    m.count_event_in("odoo-sink", "enriched.accounts", "invoice.paid")
    m.count_event_out("correlate", "enriched.accounts", "invoice.paid")
    m.count_duplicate("billing")
    m.count_late("crm")
    m.count_reject("billing/stripe_events.jsonl", "invalid_json")
    m.count_dead_letter("billing", "OdooValidationError")
    m.count_sink_outcome("billing", "account.move", "written")
    m.count_odoo_retry("OdooTransientError")
    m.observe_odoo_call("account.move", "write", "ok", 0.012)
    m.observe_sink_batch(17)
    m.observe_consumer_lag("odoo-sink", "enriched.accounts", 2, 5)
    m.observe_reorder_buffer(0, 3)
    m.observe_reorder_hold(0.4)
    m.observe_table_memory("dedup-ledger", "table_readers", 4096)
    m.blocked_workflows.block("billing", "acct_1", "in_1")
    print("ready", flush=True)
    time.sleep(120)
    """
)


# The webhook endpoint with metrics served, as `pipeline webhooks` runs it; two unsigned
# requests and one with a wrong signature. Nothing is published on the 401 path, and
# nothing listens at the bootstrap address.
WEBHOOK_SCRIPT = textwrap.dedent(
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


def _served_metric_families(script: str) -> dict[str, Metric]:
    """Run ``script`` with a free port, scrape it once it is ready, then stop it."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(port)],
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
    return {f.name: f for f in text_string_to_metric_families(page)}


def _scrape(port: int, deadline: float) -> str:
    while True:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_every_named_metric_is_served_with_its_description() -> None:
    families = _served_metric_families(STAGE_SCRIPT)

    for spec in ALL_METRICS:
        assert spec.name in families, f"{spec.name} not served"
        assert families[spec.name].documentation == spec.description

    def sample(metric: str, suffix: str = "") -> list:
        return [s for s in families[metric].samples if s.name == metric + suffix]

    [odoo_count] = sample("pipeline_odoo_call_duration_seconds", "_count")
    assert odoo_count.labels["model"] == "account.move"
    assert odoo_count.labels["outcome"] == "ok"
    assert odoo_count.value == 1
    [blocked] = sample("pipeline_workflows_blocked")
    assert blocked.labels["workflow"] == "billing"
    assert blocked.labels["account"] == "acct_1"
    assert blocked.value == 1
    [table_memory] = sample("pipeline_table_memory_bytes")
    assert table_memory.labels["table"] == "dedup-ledger"
    assert table_memory.labels["kind"] == "table_readers"
    assert table_memory.value == 4096
    [lag] = sample("pipeline_consumer_lag")
    assert (lag.labels["partition"], lag.value) == ("2", 5)


def test_refused_signatures_are_counted_per_source_as_bad_signature() -> None:
    families = _served_metric_families(WEBHOOK_SCRIPT)

    counted = {
        (sample.labels["source"], sample.labels["reason"]): sample.value
        for sample in families["pipeline_rejects"].samples
        if sample.name == "pipeline_rejects_total"
    }
    assert counted == {
        ("/webhooks/billing", "bad_signature"): 2,
        ("/webhooks/product", "bad_signature"): 1,
    }
