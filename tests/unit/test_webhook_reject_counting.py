"""A webhook refused with 401 (or 413) is counted as a reject, labelled like every
other one; requests to arbitrary paths, methods and bodies cannot mint new label values:
the source is one of the endpoints' fixed paths, the reason one of the refusal words."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from pipeline.settings import Settings
from producers import webhooks
from producers.publisher import EventPublisher
from producers.sources import WEBHOOK_SOURCES
from producers.webhook_signature import sign

BODY = b'{"id": "evt_1", "type": "customer.created"}'
SECRET = "unit-billing-secret"


class NoPublishing:
    """Stands in for the publisher: a refused request must never reach Kafka."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"a 401 request used the publisher ({name})")


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    calls: list[tuple[str, str]] = []
    monkeypatch.setattr(
        webhooks, "count_reject", lambda source, reason: calls.append((source, reason))
    )
    return calls


@pytest.fixture
def client() -> Iterator[TestClient]:
    # Nothing listens at this loopback address, and the 401 path never connects.
    settings = Settings(
        kafka={"bootstrap_servers": "127.0.0.1:9"},
        ingest={"webhook_secrets": {"billing": SECRET}},
    )
    publisher: EventPublisher = NoPublishing()  # type: ignore[assignment]
    with TestClient(webhooks.build_webhook_app(settings, publisher)) as test_client:
        yield test_client


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="unsigned"),
        pytest.param({"X-Signature": "t=1,v1=abc"}, id="stale"),
        pytest.param(
            {"X-Signature": sign(b"not-the-secret", int(time.time()), BODY)},
            id="wrong-secret",
        ),
        pytest.param(
            {"X-Signature": sign(SECRET.encode(), int(time.time()), BODY + b" ")},
            id="other-body",
        ),
    ],
)
def test_a_badly_signed_request_is_counted_as_bad_signature(
    client: TestClient, counted: list[tuple[str, str]], headers: dict[str, str]
) -> None:
    answer = client.post("/webhooks/billing", content=BODY, headers=headers)

    assert answer.status_code == 401
    assert answer.json() == {"reason": "bad_signature"}
    assert counted == [("/webhooks/billing", "bad_signature")]


def test_a_source_without_a_secret_is_counted_as_unauthenticated(
    client: TestClient, counted: list[tuple[str, str]]
) -> None:
    answer = client.post("/webhooks/helpdesk", content=BODY)

    assert answer.status_code == 401
    assert answer.json() == {"reason": "unauthenticated"}
    assert counted == [("/webhooks/helpdesk", "unauthenticated")]


def test_a_body_over_the_line_limit_is_counted_as_oversized(
    counted: list[tuple[str, str]],
) -> None:
    settings = Settings(
        kafka={"bootstrap_servers": "127.0.0.1:9"},
        ingest={"webhook_secrets": {"billing": SECRET}, "max_line_bytes": 64},
    )
    publisher: EventPublisher = NoPublishing()  # type: ignore[assignment]
    with TestClient(webhooks.build_webhook_app(settings, publisher)) as test_client:
        answer = test_client.post("/webhooks/billing", content=b"x" * 65)

    assert answer.status_code == 413
    assert answer.json() == {"reason": "oversized_payload"}
    assert counted == [("/webhooks/billing", "oversized_payload")]


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
