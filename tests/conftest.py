"""Fixtures shared by every test tier.

* ``corpus_dir``: the sample corpus, from ``PIPELINE_CORPUS`` (default ``../shared/samples``
  beside the repository). Tests must work on any corpus with the same layout.
* ``kafka_bootstrap``: a real single-node KRaft Apache Kafka broker on loopback, started
  once per test session by ``devstack.local_kafka`` (or the one named by
  ``PIPELINE_TEST_KAFKA`` when a broker is already running).
* ``pipeline_settings``: settings pointing at that broker with a topic prefix unique to the
  test, so tests never see each other's records.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pipeline.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    path = Path(
        os.environ.get("PIPELINE_CORPUS", REPO_ROOT.parent / "shared" / "samples")
    )
    if not (path / "expected.json").is_file():
        pytest.fail(f"no corpus at {path}: set PIPELINE_CORPUS to a corpus directory")
    return path.resolve()


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    existing = os.environ.get("PIPELINE_TEST_KAFKA")
    if existing:
        yield existing
        return
    from devstack.local_kafka import LocalKafka

    broker = LocalKafka(data_dir=tmp_path_factory.mktemp("kafka"))
    broker.start()
    try:
        yield broker.bootstrap_servers
    finally:
        broker.stop()


@pytest.fixture
def settings_factory(kafka_bootstrap: str, tmp_path: Path) -> Callable[..., Settings]:
    """Build settings on the test broker with a fresh topic prefix and state directory."""

    def build(**overrides: object) -> Settings:
        prefix = f"t{uuid.uuid4().hex[:10]}."
        settings = Settings(
            kafka={
                "bootstrap_servers": kafka_bootstrap,
                "topic_prefix": prefix,
                "partitions": 3,
            },
            processors={
                "state_dir": tmp_path / "processors",
                "app_id": f"test-{prefix.rstrip('.')}",
            },
            sink={"group_id": f"sink-{prefix.rstrip('.')}"},
            tracing={"spans_file": tmp_path / "spans.jsonl"},
        )
        return settings.model_copy(update=overrides)

    return build


@pytest.fixture
def pipeline_settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory()
