"""Operator tools of the sink: reconcile, dead-letter listing and re-drive."""

from __future__ import annotations

import json

import pytest
from standin_fixture import RunningStandin
from test_sink_end_to_end import (
    account,
    enriched,
    invoice,
    merge_scenario,
    produce_events,
    record_by_xmlid,
    ticket,
)
from typer.testing import CliRunner

from eventbus import Topics
from eventbus.topic_admin import ensure_topics
from pipeline.settings import Settings
from sinks.cli import app
from sinks.consumer import OdooSink, SinkStats
from sinks.dead_letters import choose, counts_by_error_class, read_dead_letters, redrive
from sinks.odoo import OdooClient
from sinks.reconcile import reconcile
from sinks.replay import replay
from sinks.topic_reading import read_topic

pytestmark = pytest.mark.integration

# Longer than the end-to-end tests' idle time: the broker may be slow to hand over the
# first records when many tests share the machine.
IDLE_SECONDS = 15.0


def run_sink_until_idle(settings: Settings, client: OdooClient) -> SinkStats:
    return OdooSink(settings, client, retry_seconds=10).run(
        stop_when_idle_seconds=IDLE_SECONDS
    )


@pytest.fixture
def sink_settings(pipeline_settings: Settings, standin: RunningStandin) -> Settings:
    settings = pipeline_settings.model_copy(update={"odoo": standin.settings("json2")})
    ensure_topics(settings)
    return settings


def cli_environment(settings: Settings, standin: RunningStandin) -> dict[str, str]:
    return {
        "PIPELINE_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
        "PIPELINE_KAFKA__TOPIC_PREFIX": settings.kafka.topic_prefix,
        "PIPELINE_SINK__GROUP_ID": settings.sink.group_id,
        "PIPELINE_ODOO__URL": standin.url,
        "PIPELINE_ODOO__DATABASE": standin.database,
        "PIPELINE_ODOO__LOGIN": standin.login,
        "PIPELINE_ODOO__API_KEY": standin.api_key,
        "PIPELINE_ODOO__PROTOCOL": "json2",
    }


def test_reconcile_is_clean_after_a_run_and_names_exactly_what_was_changed(
    sink_settings: Settings, client: OdooClient, standin: RunningStandin
) -> None:
    produce_events(sink_settings, merge_scenario())
    run_sink_until_idle(sink_settings, client)

    clean = reconcile(sink_settings, client)
    assert clean.exception_count == 0, clean.summary()
    runner = CliRunner()
    env = cli_environment(sink_settings, standin)
    assert runner.invoke(app, ["reconcile"], env=env).exit_code == 0

    # Someone deletes a ticket and edits an invoice in Odoo.
    deleted = record_by_xmlid(client, "ticket_t_2", ["name"])
    client.unlink("helpdesk.ticket", [deleted["id"]])
    edited = record_by_xmlid(client, "invoice_in_a", ["x_status"])
    client.write("account.move", [edited["id"]], {"x_status": "void"})

    report = reconcile(sink_settings, client)

    assert set(report.by_account) == {"acc-a"}
    assert sorted((e.kind, e.external_id) for e in report.by_account["acc-a"]) == [
        ("missing", "ticket_t_2"),
        ("stale", "invoice_in_a"),
    ]
    result = runner.invoke(app, ["reconcile"], env=env)
    assert result.exit_code == 1
    assert json.loads(result.stdout)["exceptions"] == 2

    # The runbook's repair: replay rewriting same versions, then reconcile is clean.
    replay(
        sink_settings,
        from_offset=None,
        from_timestamp=None,
        partitions=None,
        dry_run=False,
        client=client,
        rewrite_same_version=True,
    )
    assert reconcile(sink_settings, client).exception_count == 0
    topic = Topics(sink_settings.kafka.topic_prefix).sink_audit
    replayed = [
        json.loads(m.value())
        for m in read_topic(sink_settings, topic, "audit-probe")
        if json.loads(m.value())["sink_instance"].endswith("/replay")
    ]
    assert {(a["action"], a["external_id"]) for a in replayed} >= {
        ("updated", "invoice_in_a"),
        ("created", "ticket_t_2"),
    }


def test_dead_letters_are_listed_without_personal_data_and_redriven_once(
    sink_settings: Settings, client: OdooClient, standin: RunningStandin
) -> None:
    context = account("acc-q", 1, "Quebec AS")
    unknown_currency = invoice("in-q", "cus-q", "paid", 7500, number="Q-1")
    unknown_currency[1]["currency"] = "qqq"
    refused = enriched("invoice", context, 10, unknown_currency)
    good = enriched("ticket", context, 11, ticket("t-q", "Hello", "open", None))
    produce_events(sink_settings, [refused, good])

    stats = run_sink_until_idle(sink_settings, client)
    assert stats.dead_lettered == 1

    letters = read_dead_letters(sink_settings)
    assert counts_by_error_class(letters) == {"UnmappableRecord": 1}
    runner = CliRunner()
    env = cli_environment(sink_settings, standin)
    listed = runner.invoke(app, ["deadletters", "list"], env=env)
    assert listed.exit_code == 0
    assert json.loads(listed.stdout)["by_error_class"] == {"UnmappableRecord": 1}
    assert "qqq" not in listed.stdout.lower()
    assert "person@" not in listed.stdout

    # The cause is fixed in Odoo, then the dead letter is re-driven, twice.
    client.create("res.currency", [{"name": "QQQ", "symbol": "Q"}])
    redriven = runner.invoke(
        app, ["deadletters", "redrive", "--error-class", "UnmappableRecord"], env=env
    )
    assert redriven.exit_code == 0, redriven.stdout
    assert json.loads(redriven.stdout)["redriven"] == 1
    redrive(
        sink_settings, choose(letters, offsets=None, error_class=None, everything=True)
    )

    stats = run_sink_until_idle(sink_settings, client)

    assert stats.dead_lettered == 0
    assert stats.created == 1  # the invoice; the second copy is skipped as stale
    assert client.search_count("account.move", [("x_invoice_id", "=", "in-q")]) == 1
    move = record_by_xmlid(client, "invoice_in_q", ["x_status", "currency_id"])
    assert move["x_status"] == "paid"
    assert len(read_dead_letters(sink_settings)) == 1

    # Every finished record left an audit event, masked, naming its action.
    topic = Topics(sink_settings.kafka.topic_prefix).sink_audit
    audits = [
        json.loads(m.value()) for m in read_topic(sink_settings, topic, "audit-probe")
    ]
    actions = sorted((a["action"], a["external_id"]) for a in audits)
    assert ("dead_lettered", "") in actions
    assert ("created", "invoice_in_q") in actions
    assert ("skipped_stale", "invoice_in_q") in actions
    assert ("created", "ticket_t_q") in actions
    assert all(a["sink_instance"] for a in audits)
    assert "person@acc-q.example" not in json.dumps(audits)
