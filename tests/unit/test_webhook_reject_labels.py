"""Requests to arbitrary paths, methods and bodies cannot mint new label values for the
rejects counter: its source is one of the endpoints' fixed paths, its reason one of two
words."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from pipeline.settings import Settings
from producers import webhooks
from producers.publisher import EventPublisher
from producers.sources import WEBHOOK_SOURCES


class NoPublishing:
    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"an unauthenticated request used the publisher ({name})")


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    calls: list[tuple[str, str]] = []
    monkeypatch.setattr(
        webhooks, "count_reject", lambda source, reason: calls.append((source, reason))
    )
    return calls


@pytest.fixture
def client() -> Iterator[TestClient]:
    settings = Settings(
        kafka={"bootstrap_servers": "127.0.0.1:9"},
        ingest={"webhook_secrets": {"billing": "unit-secret"}},
    )
    publisher: EventPublisher = NoPublishing()  # type: ignore[assignment]
    with TestClient(webhooks.build_webhook_app(settings, publisher)) as test_client:
        yield test_client


def test_random_paths_and_signatures_leave_a_fixed_set_of_labels(
    client: TestClient, counted: list[tuple[str, str]]
) -> None:
    names = list(WEBHOOK_SOURCES)
    for attempt in range(300):
        name = names[attempt % len(names)]
        noise = secrets.token_hex(8)
        for path in (
            f"/webhooks/{name}",
            f"/webhooks/{name}/{noise}",
            f"/webhooks/{noise}",
            f"/webhooks/{name}?{noise}=1",
            f"/{noise}",
        ):
            client.post(
                path,
                content=noise.encode(),
                headers={"X-Signature": f"t={attempt},v1={noise}"},
            )

    fixed_paths = {f"/webhooks/{name}" for name in names}
    assert counted, "no refusal was counted: the attack did not reach the endpoints"
    assert {source for source, _ in counted} <= fixed_paths
    assert {reason for _, reason in counted} <= {
        webhooks.UNAUTHENTICATED,
        webhooks.BAD_SIGNATURE,
    }
