"""Readiness answers, their cache, and the probe server's paths."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from pipeline.health import HealthServer, Readiness, ready_answer


class FlakyDependency:
    """A check whose answer the test sets, counting how often it was asked."""

    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.calls = 0

    def __call__(self) -> bool:
        self.calls += 1
        return self.answer


def test_ready_only_when_every_check_passes() -> None:
    readiness = Readiness({"kafka": lambda: True, "odoo": lambda: False})

    status, body = ready_answer(readiness)

    assert status == 503
    assert body == {"ready": False, "checks": {"kafka": True, "odoo": False}}


def test_check_results_are_cached_for_the_interval() -> None:
    dependency = FlakyDependency(answer=True)
    readiness = Readiness({"kafka": dependency}, cache_seconds=60)

    assert ready_answer(readiness)[0] == 200
    dependency.answer = False
    assert ready_answer(readiness)[0] == 200  # cached
    assert dependency.calls == 1

    uncached = Readiness({"kafka": dependency}, cache_seconds=0)
    assert ready_answer(uncached)[0] == 503


@pytest.fixture
def server() -> Iterator[tuple[HealthServer, FlakyDependency]]:
    dependency = FlakyDependency(answer=True)
    probe = HealthServer("127.0.0.1", 0, Readiness({"odoo": dependency}, 0))
    probe.start()
    try:
        yield probe, dependency
    finally:
        probe.stop()


def test_server_serves_live_ready_and_nothing_else(
    server: tuple[HealthServer, FlakyDependency],
) -> None:
    probe, dependency = server
    base = f"http://127.0.0.1:{probe.port}"

    assert httpx.get(f"{base}/health/live").json() == {"live": True}
    assert httpx.get(f"{base}/health/ready").status_code == 200
    dependency.answer = False
    not_ready = httpx.get(f"{base}/health/ready")
    assert not_ready.status_code == 503
    assert not_ready.json() == {"ready": False, "checks": {"odoo": False}}
    assert httpx.get(f"{base}/metrics").status_code == 404
