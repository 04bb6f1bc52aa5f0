"""A process serving metrics: scrape its endpoint over HTTP and find every named metric."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from devstack.local_kafka import free_port
from telemetry.metrics import ALL_METRICS

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
    m.blocked_workflows.block("billing", "acct_1", "in_1")
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


@pytest.mark.integration
def test_every_named_metric_is_served_with_its_description() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", STAGE_SCRIPT, str(port)],
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
    [lag] = sample("pipeline_consumer_lag")
    assert (lag.labels["partition"], lag.value) == ("2", 5)
