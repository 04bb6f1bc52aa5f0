"""Plan computation from a declaration and a fake description of the live topics."""

from __future__ import annotations

from pathlib import Path

import pytest

from eventbus.topic_plan import (
    DEFAULT_TOPICS_FILE,
    ChangeKind,
    DeclaredTopic,
    LiveTopic,
    TopicChangeRefused,
    TopicPlanError,
    apply,
    compute_changes,
    load_declared,
    refused_changes,
)
from eventbus.topics import Topics
from pipeline.settings import Settings

PREFIX = "p."
WEEK = "604800000"


def settings(partitions: int = 6, replication_factor: int = 3) -> Settings:
    return Settings(
        kafka={
            "topic_prefix": PREFIX,
            "partitions": partitions,
            "replication_factor": replication_factor,
        }
    )


def declared(
    partitions: int = 3, keyed: bool = True, retention: str = WEEK
) -> DeclaredTopic:
    return DeclaredTopic(
        "source.billing",
        partitions,
        1,
        keyed,
        {"retention.ms": retention, "cleanup.policy": "delete"},
    )


def live(partitions: int = 3, replicas: int = 1, **config: str) -> LiveTopic:
    values = {
        "retention.ms": WEEK,
        "cleanup.policy": "delete",
        "segment.bytes": "1073741824",
        **config,
    }
    return LiveTopic(PREFIX + "source.billing", partitions, replicas, values)


def test_the_declaration_names_exactly_the_topic_roles() -> None:
    names = {topic.name for topic in load_declared(settings())}
    roles = {spec.name for spec in Topics().specs(partitions=1)}

    assert names == roles


def test_from_settings_takes_partitions_and_replicas_from_the_settings() -> None:
    topics = {t.name: t for t in load_declared(settings(partitions=6))}

    assert topics["enriched.accounts"].partitions == 6
    assert topics["processing.deduplicated"].partitions == 1
    assert topics["enriched.accounts"].replication_factor == 3
    assert topics["enriched.accounts"].config["min.insync.replicas"] == "2"


def test_a_single_broker_gets_one_in_sync_replica() -> None:
    topics = load_declared(settings(replication_factor=1))

    assert {t.config["min.insync.replicas"] for t in topics} == {"1"}


def test_every_declared_topic_has_retention_and_cleanup_policy() -> None:
    for topic in load_declared(settings()):
        assert int(topic.config["retention.ms"]) > 0, topic.name
        assert topic.config["cleanup.policy"] in {"delete", "compact"}, topic.name


def test_a_min_insync_above_the_replication_factor_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "topics.toml"
    file.write_text(
        '[topics."a"]\npartitions = 1\nreplication_factor = 1\nmin_insync_replicas = 2\n'
    )

    with pytest.raises(TopicPlanError, match="min_insync_replicas 2"):
        load_declared(settings(), file)


def test_an_unknown_key_in_the_file_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "topics.toml"
    file.write_text('[topics."a"]\npartition = 1\n')

    with pytest.raises(TopicPlanError, match="partition"):
        load_declared(settings(), file)


def test_the_default_file_is_the_one_in_deploy() -> None:
    assert DEFAULT_TOPICS_FILE.parts[-2:] == ("deploy", "topics.toml")


def test_a_missing_topic_is_created_with_everything_declared() -> None:
    changes = compute_changes(PREFIX, [declared()], {})

    assert len(changes) == 1
    change = changes[0]
    assert change.kind is ChangeKind.CREATE
    assert change.topic == "p.source.billing"
    assert (change.partitions, change.replication_factor) == (3, 1)
    assert change.config == {"retention.ms": WEEK, "cleanup.policy": "delete"}


def test_a_matching_topic_plans_nothing() -> None:
    assert compute_changes(PREFIX, [declared()], {"p.source.billing": live()}) == []


def test_undeclared_config_keys_are_ignored() -> None:
    current = live(**{"segment.bytes": "1"})

    assert compute_changes(PREFIX, [declared()], {current.name: current}) == []


def test_a_different_retention_plans_an_alter_of_that_key_only() -> None:
    current = live(**{"retention.ms": "1000"})

    changes = compute_changes(PREFIX, [declared()], {current.name: current})

    assert [c.kind for c in changes] == [ChangeKind.ALTER_CONFIG]
    assert changes[0].config == {"retention.ms": WEEK}
    assert changes[0].previous == {"retention.ms": "1000"}
    assert "1000 -> 604800000" in changes[0].describe()


def test_the_order_of_a_cleanup_policy_does_not_matter() -> None:
    topic = DeclaredTopic("t", 1, 1, True, {"cleanup.policy": "compact,delete"})
    current = LiveTopic("p.t", 1, 1, {"cleanup.policy": "delete,compact"})

    assert compute_changes(PREFIX, [topic], {current.name: current}) == []


def test_more_partitions_on_a_keyed_topic_needs_force_with_the_reason() -> None:
    changes = compute_changes(
        PREFIX, [declared(partitions=6)], {"p.source.billing": live()}
    )

    assert [c.kind for c in changes] == [ChangeKind.ADD_PARTITIONS]
    assert changes[0].partitions == 6
    assert changes[0].needs_force
    assert "ordering" in changes[0].reason
    assert refused_changes(changes, force=False) == changes
    assert refused_changes(changes, force=True) == []


def test_more_partitions_on_an_unkeyed_topic_needs_no_force() -> None:
    changes = compute_changes(
        PREFIX, [declared(partitions=6, keyed=False)], {"p.source.billing": live()}
    )

    assert [c.kind for c in changes] == [ChangeKind.ADD_PARTITIONS]
    assert not changes[0].needs_force


def test_fewer_partitions_is_impossible_even_with_force() -> None:
    changes = compute_changes(
        PREFIX, [declared(partitions=2)], {"p.source.billing": live(partitions=3)}
    )

    assert [c.kind for c in changes] == [ChangeKind.IMPOSSIBLE]
    assert "cannot remove partitions" in changes[0].reason
    assert refused_changes(changes, force=True) == changes


def test_a_replication_factor_change_is_impossible() -> None:
    changes = compute_changes(
        PREFIX, [declared()], {"p.source.billing": live(replicas=3)}
    )

    assert [c.kind for c in changes] == [ChangeKind.IMPOSSIBLE]
    assert "reassignment" in changes[0].reason


def test_apply_refuses_the_whole_plan_before_touching_the_cluster() -> None:
    changes = compute_changes(
        PREFIX,
        [declared(partitions=6), DeclaredTopic("other", 1, 1, True, {})],
        {"p.source.billing": live()},
    )

    # The settings point at no broker: a refusal must come before any admin call.
    with pytest.raises(TopicChangeRefused, match="p.source.billing") as caught:
        apply(settings(), changes, force=False)

    assert [c.kind for c in caught.value.refused] == [ChangeKind.ADD_PARTITIONS]


def test_apply_of_an_empty_plan_does_nothing() -> None:
    assert apply(settings(), [], force=False) == []
