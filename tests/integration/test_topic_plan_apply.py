"""Topics as code against the real broker, under a topic prefix unique to the test."""

from __future__ import annotations

import time

import pytest
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ResourceType,
)
from typer.testing import CliRunner

from eventbus.kafka_config import admin_config
from eventbus.topic_plan import (
    ChangeKind,
    DeclaredTopic,
    TopicChangeRefused,
    apply,
    describe_live,
    load_declared,
    plan,
)
from eventbus.topics_cli import app as topics_app
from pipeline.settings import Settings

pytestmark = pytest.mark.integration

DAY_MS = str(24 * 3600 * 1000)


def replan(settings: Settings, declared: list[DeclaredTopic]) -> list:
    """Plan again, giving the broker's metadata a moment to show what was applied."""
    deadline = time.monotonic() + 10
    changes = plan(settings, declared)
    while changes and time.monotonic() < deadline:
        time.sleep(0.2)
        changes = plan(settings, declared)
    return changes


def replan_until_found(settings: Settings, declared: list[DeclaredTopic]) -> list:
    deadline = time.monotonic() + 10
    changes = plan(settings, declared)
    while not changes and time.monotonic() < deadline:
        time.sleep(0.2)
        changes = plan(settings, declared)
    return changes


def set_retention(settings: Settings, topic: str, retention_ms: str) -> None:
    admin = AdminClient(admin_config(settings.kafka))
    resource = ConfigResource(
        ResourceType.TOPIC,
        topic,
        incremental_configs=[
            ConfigEntry(
                "retention.ms",
                retention_ms,
                incremental_operation=AlterConfigOpType.SET,
            )
        ],
    )
    for future in admin.incremental_alter_configs([resource]).values():
        future.result(timeout=30)


def test_plan_apply_converges_and_refuses_unforced_partition_growth(
    pipeline_settings: Settings,
) -> None:
    prefix = pipeline_settings.kafka.topic_prefix
    declared = load_declared(pipeline_settings)

    # 1. An empty prefix: every declared topic is to be created.
    changes = plan(pipeline_settings, declared)
    assert {c.kind for c in changes} == {ChangeKind.CREATE}
    assert {c.topic for c in changes} == {prefix + t.name for t in declared}

    # 2. Apply creates them as declared; planning again finds nothing.
    apply(pipeline_settings, changes)
    assert replan(pipeline_settings, declared) == []
    admin = AdminClient(admin_config(pipeline_settings.kafka))
    live = describe_live(admin, [prefix + t.name for t in declared])
    for topic in declared:
        created = live[prefix + topic.name]
        assert created.partitions == topic.partitions
        assert created.config["retention.ms"] == topic.config["retention.ms"]

    # 3. Someone changes a retention by hand: the plan alters it back.
    enriched = prefix + "enriched.accounts"
    set_retention(pipeline_settings, enriched, DAY_MS)
    drift = replan_until_found(pipeline_settings, declared)
    assert [(c.topic, c.kind) for c in drift] == [(enriched, ChangeKind.ALTER_CONFIG)]
    assert drift[0].previous == {"retention.ms": DAY_MS}
    apply(pipeline_settings, drift)
    assert replan(pipeline_settings, declared) == []

    # 4. More partitions on a keyed topic are refused without force, applied with it.
    grown = [
        DeclaredTopic(t.name, t.partitions + 1, t.replication_factor, t.keyed, t.config)
        if t.name == "enriched.accounts"
        else t
        for t in declared
    ]
    growth = plan(pipeline_settings, grown)
    assert [c.kind for c in growth] == [ChangeKind.ADD_PARTITIONS]
    with pytest.raises(TopicChangeRefused, match="ordering"):
        apply(pipeline_settings, growth)
    assert describe_live(admin, [enriched])[enriched].partitions == (
        pipeline_settings.kafka.partitions
    )
    apply(pipeline_settings, growth, force=True)
    assert replan(pipeline_settings, grown) == []

    # 5. Going back to fewer partitions is impossible, forced or not.
    shrink = plan(pipeline_settings, declared)
    assert [c.kind for c in shrink] == [ChangeKind.IMPOSSIBLE]
    with pytest.raises(TopicChangeRefused, match="cannot remove partitions"):
        apply(pipeline_settings, shrink, force=True)


def test_the_cli_plans_applies_and_then_reports_nothing_to_do(
    pipeline_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "PIPELINE_KAFKA__BOOTSTRAP_SERVERS", pipeline_settings.kafka.bootstrap_servers
    )
    monkeypatch.setenv(
        "PIPELINE_KAFKA__TOPIC_PREFIX", pipeline_settings.kafka.topic_prefix
    )
    monkeypatch.setenv("PIPELINE_KAFKA__PARTITIONS", "2")
    runner = CliRunner()

    planned = runner.invoke(topics_app, ["plan"])
    assert planned.exit_code == 2, planned.output
    assert planned.output.count("create ") == len(load_declared(pipeline_settings))

    applied = runner.invoke(topics_app, ["apply"])
    assert applied.exit_code == 0, applied.output
    assert "applied: create" in applied.output

    again = runner.invoke(topics_app, ["apply"])
    assert again.exit_code == 0, again.output
    assert "nothing to do" in again.output
