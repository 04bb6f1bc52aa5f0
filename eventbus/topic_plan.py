"""Topics as code: compare ``deploy/topics.toml`` with the cluster, then converge.

``plan`` reads the live topics through the Kafka admin API (describe topics, describe
configs) and lists the changes that would make them match the declaration; ``apply``
makes them. What can change and what cannot:

* a missing topic is created with its partitions, replication factor and configuration;
* a configuration value that differs is set (``incremental_alter_configs``, so values
  nobody declared are left alone);
* partitions can be added, but on a keyed topic only with ``force``: the partition of a
  key is its hash modulo the partition count, so adding partitions sends existing keys
  to other partitions and a consumer can see a key's new records before its old ones;
* partitions can never be removed (Kafka has no such operation) and a replication
  factor change needs a partition reassignment: both are reported as impossible.

``apply`` checks the whole plan before changing anything: one refused change and
nothing is applied. Applying twice is harmless: the second plan is empty.

Errors::

    TopicPlanError               the declaration or the cluster cannot be read
    └── TopicChangeRefused       a change needs --force or is impossible
    TopicApplyError              the cluster refused a change (names the topic)
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from confluent_kafka import KafkaError, KafkaException, TopicCollection
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
    ResourceType,
)
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from eventbus.kafka_config import admin_config
from pipeline.settings import Settings

logger = logging.getLogger(__name__)

DEFAULT_TOPICS_FILE = Path(__file__).resolve().parents[1] / "deploy" / "topics.toml"
FROM_SETTINGS = "from-settings"
ADMIN_TIMEOUT_SECONDS = 30.0


class TopicPlanError(Exception):
    pass


class TopicChangeRefused(TopicPlanError):
    def __init__(self, refused: Sequence[TopicChange]) -> None:
        self.refused = list(refused)
        reasons = "; ".join(f"{c.topic}: {c.reason}" for c in self.refused)
        super().__init__(
            f"{len(self.refused)} change(s) refused, none applied: {reasons}"
        )


class TopicApplyError(Exception):
    def __init__(self, topic: str, action: str, cause: object) -> None:
        self.topic = topic
        super().__init__(f"{topic}: {action} failed: {cause}")


# -- the declaration ------------------------------------------------------------------


class _TopicEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = ""
    partitions: int | Literal["from-settings"] = Field(FROM_SETTINGS)
    replication_factor: int | Literal["from-settings"] = Field(FROM_SETTINGS)
    min_insync_replicas: int | Literal["from-settings"] = Field(FROM_SETTINGS)
    keyed: bool = True
    config: dict[str, str] = Field(default_factory=dict)


class _TopicsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    topics: dict[str, _TopicEntry]


@dataclass(frozen=True)
class DeclaredTopic:
    """One topic as declared, with every ``from-settings`` value resolved."""

    name: str  # relative to the topic prefix
    partitions: int
    replication_factor: int
    keyed: bool
    config: Mapping[str, str]


def load_declared(
    settings: Settings, path: Path = DEFAULT_TOPICS_FILE
) -> list[DeclaredTopic]:
    """The topics of ``path`` with the partition and replica counts of ``settings``."""
    try:
        entries = _TopicsFile.model_validate(tomllib.loads(path.read_text()))
    except (OSError, tomllib.TOMLDecodeError, ValidationError) as exc:
        raise TopicPlanError(
            f"cannot read the topic declaration {path}: {exc}"
        ) from exc
    return [_resolve(name, entry, settings) for name, entry in entries.topics.items()]


def _resolve(name: str, entry: _TopicEntry, settings: Settings) -> DeclaredTopic:
    partitions = _or_setting(entry.partitions, settings.kafka.partitions)
    replicas = _or_setting(entry.replication_factor, settings.kafka.replication_factor)
    min_insync = _or_setting(entry.min_insync_replicas, max(1, replicas - 1))
    if partitions < 1 or replicas < 1:
        raise TopicPlanError(f"{name}: partitions and replication factor must be >= 1")
    if not 1 <= min_insync <= replicas:
        # More required in-sync replicas than replicas makes every acks=all write fail.
        raise TopicPlanError(
            f"{name}: min_insync_replicas {min_insync} must be between 1 and the "
            f"replication factor {replicas}"
        )
    config = {**entry.config, "min.insync.replicas": str(min_insync)}
    return DeclaredTopic(name, partitions, replicas, entry.keyed, config)


def _or_setting(value: int | str, from_settings: int) -> int:
    return from_settings if value == FROM_SETTINGS else int(value)


# -- the live cluster -----------------------------------------------------------------


@dataclass(frozen=True)
class LiveTopic:
    """What the cluster says about one existing topic."""

    name: str
    partitions: int
    replication_factor: int
    config: Mapping[str, str]


def describe_live(admin: AdminClient, names: Sequence[str]) -> dict[str, LiveTopic]:
    """The topics among ``names`` that exist, with their configuration."""
    partitions: dict[str, tuple[int, int]] = {}
    futures = admin.describe_topics(
        TopicCollection(list(names)), request_timeout=ADMIN_TIMEOUT_SECONDS
    )
    for name, future in futures.items():
        try:
            description = future.result()
        except KafkaException as exc:
            if exc.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                continue
            raise TopicPlanError(f"cannot describe topic {name}: {exc}") from exc
        replicas = len(description.partitions[0].replicas)
        partitions[name] = (len(description.partitions), replicas)
    if not partitions:
        return {}

    resources = [ConfigResource(ResourceType.TOPIC, name) for name in partitions]
    live: dict[str, LiveTopic] = {}
    for resource, future in admin.describe_configs(
        resources, request_timeout=ADMIN_TIMEOUT_SECONDS
    ).items():
        try:
            entries = future.result()
        except KafkaException as exc:
            raise TopicPlanError(
                f"cannot describe the configuration of {resource.name}: {exc}"
            ) from exc
        config = {
            key: entry.value
            for key, entry in entries.items()
            if entry.value is not None
        }
        count, replicas = partitions[resource.name]
        live[resource.name] = LiveTopic(resource.name, count, replicas, config)
    return live


# -- the plan -------------------------------------------------------------------------


class ChangeKind(StrEnum):
    CREATE = "create"
    ALTER_CONFIG = "alter-config"
    ADD_PARTITIONS = "add-partitions"
    IMPOSSIBLE = "impossible"


@dataclass(frozen=True)
class TopicChange:
    topic: str  # the full name, prefix included
    kind: ChangeKind
    partitions: int | None = None
    replication_factor: int | None = None
    config: Mapping[str, str] = field(default_factory=dict)
    previous: Mapping[str, str | None] = field(default_factory=dict)
    needs_force: bool = False
    reason: str = ""

    def describe(self) -> str:
        """One line for an operator."""
        match self.kind:
            case ChangeKind.CREATE:
                settings = ", ".join(f"{k}={v}" for k, v in sorted(self.config.items()))
                text = (
                    f"create {self.topic}: {self.partitions} partitions, "
                    f"replication {self.replication_factor}, {settings}"
                )
            case ChangeKind.ALTER_CONFIG:
                values = ", ".join(
                    f"{k}: {self.previous.get(k)} -> {v}"
                    for k, v in sorted(self.config.items())
                )
                text = f"alter {self.topic}: {values}"
            case ChangeKind.ADD_PARTITIONS:
                text = f"add partitions to {self.topic}: -> {self.partitions}"
            case ChangeKind.IMPOSSIBLE:
                text = f"cannot change {self.topic}"
        if self.needs_force:
            text += " [needs --force]"
        return f"{text} ({self.reason})" if self.reason else text


def plan(settings: Settings, declared: Sequence[DeclaredTopic]) -> list[TopicChange]:
    """The changes that make the cluster of ``settings`` match ``declared``."""
    prefix = settings.kafka.topic_prefix
    admin = AdminClient(admin_config(settings.kafka))
    live = describe_live(admin, [prefix + topic.name for topic in declared])
    return compute_changes(prefix, declared, live)


def compute_changes(
    prefix: str, declared: Sequence[DeclaredTopic], live: Mapping[str, LiveTopic]
) -> list[TopicChange]:
    """The plan from a declaration and a description of the live topics (pure)."""
    changes: list[TopicChange] = []
    for topic in declared:
        name = prefix + topic.name
        current = live.get(name)
        if current is None:
            changes.append(
                TopicChange(
                    name,
                    ChangeKind.CREATE,
                    partitions=topic.partitions,
                    replication_factor=topic.replication_factor,
                    config=dict(topic.config),
                )
            )
            continue
        changes += _differences(name, topic, current)
    return changes


def _differences(
    name: str, topic: DeclaredTopic, current: LiveTopic
) -> list[TopicChange]:
    changes: list[TopicChange] = []

    # 1. Partitions: only ever more, and on a keyed topic only when forced.
    if topic.partitions < current.partitions:
        changes.append(
            TopicChange(
                name,
                ChangeKind.IMPOSSIBLE,
                partitions=topic.partitions,
                reason=f"declared {topic.partitions} partitions but it has "
                f"{current.partitions}; Kafka cannot remove partitions (recreate the "
                "topic, or declare the current count)",
            )
        )
    elif topic.partitions > current.partitions:
        changes.append(
            TopicChange(
                name,
                ChangeKind.ADD_PARTITIONS,
                partitions=topic.partitions,
                needs_force=topic.keyed,
                reason=(
                    f"from {current.partitions}; the topic is keyed: existing keys "
                    "move to other partitions and per-key ordering breaks across the "
                    "change"
                    if topic.keyed
                    else f"from {current.partitions}"
                ),
            )
        )

    # 2. Replication factor: needs a reassignment, which this tool does not do.
    if topic.replication_factor != current.replication_factor:
        changes.append(
            TopicChange(
                name,
                ChangeKind.IMPOSSIBLE,
                replication_factor=topic.replication_factor,
                reason=f"replication factor {current.replication_factor} -> "
                f"{topic.replication_factor} needs a partition reassignment "
                "(kafka-reassign-partitions), not a config change",
            )
        )

    # 3. Configuration: the declared keys whose live value differs.
    differing = {
        key: value
        for key, value in topic.config.items()
        if not _same_value(key, value, current.config.get(key))
    }
    if differing:
        changes.append(
            TopicChange(
                name,
                ChangeKind.ALTER_CONFIG,
                config=differing,
                previous={key: current.config.get(key) for key in differing},
            )
        )
    return changes


def _same_value(key: str, declared: str, live: str | None) -> bool:
    if live is None:
        return False
    if key == "cleanup.policy":
        # "compact,delete" and "delete,compact" are the same policy.
        return _policy(declared) == _policy(live)
    return declared.strip() == live.strip()


def _policy(value: str) -> frozenset[str]:
    return frozenset(part.strip() for part in value.split(",") if part.strip())


# -- applying -------------------------------------------------------------------------


def refused_changes(changes: Sequence[TopicChange], force: bool) -> list[TopicChange]:
    return [
        change
        for change in changes
        if change.kind is ChangeKind.IMPOSSIBLE or (change.needs_force and not force)
    ]


def apply(
    settings: Settings, changes: Sequence[TopicChange], force: bool = False
) -> list[TopicChange]:
    """Make ``changes`` on the cluster; all or none pass the check. Returns those made."""
    refused = refused_changes(changes, force)
    if refused:
        raise TopicChangeRefused(refused)
    if not changes:
        return []
    admin = AdminClient(admin_config(settings.kafka))

    # 1. Create the missing topics.
    _create(admin, [c for c in changes if c.kind is ChangeKind.CREATE])

    # 2. Set the configuration values that differ.
    _alter(admin, [c for c in changes if c.kind is ChangeKind.ALTER_CONFIG])

    # 3. Add partitions (already allowed by the check above).
    _add_partitions(admin, [c for c in changes if c.kind is ChangeKind.ADD_PARTITIONS])

    for change in changes:
        logger.info("topic change applied: %s", change.describe())
    return list(changes)


def _create(admin: AdminClient, changes: Sequence[TopicChange]) -> None:
    if not changes:
        return
    new_topics = [
        NewTopic(
            change.topic,
            num_partitions=change.partitions or 1,
            replication_factor=change.replication_factor or 1,
            config=dict(change.config),
        )
        for change in changes
    ]
    futures = admin.create_topics(new_topics, operation_timeout=ADMIN_TIMEOUT_SECONDS)
    for topic, future in futures.items():
        try:
            future.result(timeout=ADMIN_TIMEOUT_SECONDS)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise TopicApplyError(topic, "create", exc.args[0]) from exc
            # Created by someone else since the plan: its settings may differ, which
            # the next plan shows.
            logger.warning("topic %s already exists: not created, plan again", topic)


def _alter(admin: AdminClient, changes: Sequence[TopicChange]) -> None:
    if not changes:
        return
    resources = [
        ConfigResource(
            ResourceType.TOPIC,
            change.topic,
            incremental_configs=[
                ConfigEntry(key, value, incremental_operation=AlterConfigOpType.SET)
                for key, value in change.config.items()
            ],
        )
        for change in changes
    ]
    futures = admin.incremental_alter_configs(
        resources, request_timeout=ADMIN_TIMEOUT_SECONDS
    )
    _wait({resource.name: future for resource, future in futures.items()}, "alter")


def _add_partitions(admin: AdminClient, changes: Sequence[TopicChange]) -> None:
    if not changes:
        return
    requests = [NewPartitions(c.topic, c.partitions or 0) for c in changes]
    futures = admin.create_partitions(requests, operation_timeout=ADMIN_TIMEOUT_SECONDS)
    _wait(futures, "add partitions")


def _wait(futures: Mapping[str, Any], action: str) -> None:
    for topic, future in futures.items():
        try:
            future.result(timeout=ADMIN_TIMEOUT_SECONDS)
        except KafkaException as exc:
            raise TopicApplyError(topic, action, exc.args[0]) from exc
