"""The sink under Odoo failures, injected with the stand-in's fault switch.

Each test produces the merge scenario of test_sink_end_to_end.py, fails Odoo in one way,
and checks that the end state is the one a healthy run reaches: every record once,
nothing dead-lettered that Odoo would have taken, offsets committed only after writes.
"""

from __future__ import annotations

import threading
import time

import pytest
from standin_fixture import PROTOCOLS, RunningStandin
from test_sink_end_to_end import (
    account,
    committed_offsets,
    enriched,
    merge_scenario,
    produce_events,
    read_dead_letters,
    record_by_xmlid,
    ticket,
    usage,
)

from eventbus.topic_admin import ensure_topics
from odoo_standin.fault_control import FaultControl
from pipeline.settings import Settings
from sinks.consumer import OdooSink, SinkStats
from sinks.odoo import OdooClient, make_client

pytestmark = pytest.mark.integration

# Longer than the end-to-end tests' idle time: the broker may be slow to hand over the
# first records when many tests share the machine.
IDLE_SECONDS = 15.0
WRITE_MODELS = ["res.partner", "sale.order", "account.move", "helpdesk.ticket"]


@pytest.fixture(params=PROTOCOLS)
def sink_settings(
    request: pytest.FixtureRequest, pipeline_settings: Settings, standin: RunningStandin
) -> Settings:
    settings = pipeline_settings.model_copy(
        update={
            "odoo": standin.settings(request.param, timeout_seconds=5.0),
            "sink": pipeline_settings.sink.model_copy(
                update={"outage_pause_seconds": 1.0, "outage_pause_max_seconds": 2.0}
            ),
        }
    )
    ensure_topics(settings)
    return settings


def assert_merge_scenario_written_once(client: OdooClient) -> None:
    """The state a healthy run of ``merge_scenario`` leaves, each record once."""
    assert client.search_count("helpdesk.ticket", []) == 3
    assert client.search_count("sale.order", []) == 1
    assert client.search_count("account.move", []) == 1
    assert client.search_count("x_product_usage", []) == 2
    contacts = [("x_crm_contact_id", "!=", False)]
    assert client.search_count("res.partner", contacts) == 1
    accounts = [("x_canonical_account_id", "!=", False), ("active", "in", [1, 0])]
    assert client.search_count("res.partner", accounts) == 2
    order = record_by_xmlid(client, "subscription_sub_a", ["x_quantity"])
    assert order["x_quantity"] == 5
    move = record_by_xmlid(client, "invoice_in_a", ["x_status"])
    assert move["x_status"] == "paid"
    survivor = record_by_xmlid(client, "account_acc_a", ["name"])
    for name in ("ticket_t_1", "ticket_t_2", "ticket_t_3"):
        row = record_by_xmlid(client, name, ["partner_id"])
        assert row["partner_id"][0] == survivor["id"]


def run_until_idle(
    settings: Settings, client: OdooClient, **options: object
) -> SinkStats:
    sink = OdooSink(settings, client, retry_seconds=10, **options)  # type: ignore[arg-type]
    return sink.run(stop_when_idle_seconds=IDLE_SECONDS)


def test_outage_pauses_commits_nothing_and_drains_in_order_when_odoo_returns(
    sink_settings: Settings, client: OdooClient, faults: FaultControl
) -> None:
    events = merge_scenario()
    produce_events(sink_settings, events)
    faults.switch_on("drop_connection", models=WRITE_MODELS + ["ir.model.data"])

    with make_client(sink_settings.odoo) as sink_client:
        sink = OdooSink(sink_settings, sink_client, retry_seconds=1.0)
        outcome: list[SinkStats] = []
        worker = threading.Thread(
            target=lambda: outcome.append(sink.run(stop_when_idle_seconds=IDLE_SECONDS))
        )
        worker.start()
        try:
            deadline = time.monotonic() + 30
            while not sink.paused and time.monotonic() < deadline:
                time.sleep(0.1)
            assert sink.paused
            # While Odoo is down nothing is committed, and the sink does not stop.
            time.sleep(3)
            assert worker.is_alive()
            assert (
                committed_offsets(sink_settings) == [0] * sink_settings.kafka.partitions
            )
            faults.clear()
            worker.join(timeout=90)
        finally:
            sink.stop()
            worker.join(timeout=30)

    [stats] = outcome
    assert stats.dead_lettered == 0
    assert sum(committed_offsets(sink_settings)) == len(events)
    assert_merge_scenario_written_once(client)


@pytest.mark.parametrize(
    ("mode", "options"),
    [
        ("http_5xx", {"status": 503, "remaining": 3}),
        ("serialization_failure", {"remaining": 3}),
        ("commit_then_drop", {"remaining": 1, "models": ["helpdesk.ticket"]}),
        ("commit_then_drop", {"remaining": 1, "models": ["ir.model.data"]}),
    ],
    ids=["503", "serialization", "outcome-unknown-create", "outcome-unknown-xmlid"],
)
def test_transient_failures_are_retried_to_the_healthy_state(
    sink_settings: Settings,
    client: OdooClient,
    faults: FaultControl,
    mode: str,
    options: dict[str, object],
) -> None:
    produce_events(sink_settings, merge_scenario())
    faults.switch_on(mode, **options)  # type: ignore[arg-type]

    stats = run_until_idle(sink_settings, client)

    assert faults.current().mode.value == "none"  # the fault was used up
    assert stats.dead_lettered == 0
    assert_merge_scenario_written_once(client)
    assert sum(committed_offsets(sink_settings)) == len(merge_scenario())


def test_too_many_requests_waits_as_long_as_retry_after_says(
    sink_settings: Settings, client: OdooClient, faults: FaultControl
) -> None:
    produce_events(sink_settings, merge_scenario())
    faults.switch_on("http_429", retry_after=4, remaining=1)
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(min(seconds, 0.2))

    stats = run_until_idle(sink_settings, client, sleep=sleep)

    assert waits and waits[0] >= 4
    assert stats.dead_lettered == 0
    assert_merge_scenario_written_once(client)


def test_refused_record_in_a_batch_is_dead_lettered_alone_at_once(
    sink_settings: Settings, client: OdooClient
) -> None:
    # Over JSON-RPC the refusal is an error object inside an HTTP 200 answer.
    context = account("acc-e", 1, "Echo AS")
    good = [
        enriched("ticket", context, n, ticket(f"t-e{n}", "Fine", "open", None))
        for n in range(1, 9)
    ]
    refused = enriched(
        "usage_daily", context, 50, usage("ws-e", "2024-13-45", "E", 1, 1)
    )
    produce_events(sink_settings, [*good[:4], refused, *good[4:]])

    stats = run_until_idle(sink_settings, client)

    assert stats.dead_lettered == 1
    assert client.search_count("helpdesk.ticket", []) == len(good)
    [(_, headers)] = read_dead_letters(sink_settings, expected=1)
    assert headers["error-class"] == "OdooValidationError"
    assert headers["attempts"] == "1"
    assert headers["event-id"] == refused["event_id"]
    assert int(headers["original-offset"]) == 4
