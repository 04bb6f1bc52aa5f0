"""The stand-in's switchable faults, seen through both Odoo clients of the sink."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from pydantic import ValidationError
from standin_fixture import PROTOCOLS, RunningStandin, running_standin

from odoo_standin.fault_control import FaultControl
from odoo_standin.faults import FaultMode
from sinks.odoo import (
    JsonRpcClient,
    OdooClient,
    OdooServerError,
    OdooTransientError,
    make_client,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStandin]:
    with running_standin(tmp_path_factory.mktemp("standin-faults")) as server:
        yield server


def open_client(
    standin: RunningStandin, protocol: str, timeout_seconds: float = 10.0
) -> OdooClient:
    client = make_client(standin.settings(protocol, timeout_seconds=timeout_seconds))
    if isinstance(client, JsonRpcClient):
        # Log in before any fault is on, so the faults hit the ORM call under test.
        assert client.uid > 0
    return client


@pytest.fixture(params=PROTOCOLS)
def client(
    request: pytest.FixtureRequest, standin: RunningStandin
) -> Iterator[OdooClient]:
    with open_client(standin, request.param) as odoo:
        yield odoo


def unique_ref() -> str:
    return f"fault-{uuid.uuid4().hex[:10]}"


def create_partner(client: OdooClient, ref: str) -> list[int]:
    return client.create("res.partner", [{"name": f"Partner {ref}", "ref": ref}])


def partners_with(client: OdooClient, ref: str) -> int:
    return client.search_count("res.partner", [("ref", "=", ref)])


def test_the_switch_reads_back_what_was_set(faults: FaultControl) -> None:
    assert faults.current().mode is FaultMode.NONE

    faults.switch_on("http_5xx", status=502, remaining=3, models=["res.partner"])

    current = faults.current()
    assert current.mode is FaultMode.HTTP_5XX
    assert (current.status, current.remaining) == (502, 3)
    assert current.models == ["res.partner"]


def test_the_switch_refuses_an_unknown_mode(standin: RunningStandin) -> None:
    answer = httpx.post(f"{standin.url}/__standin__/faults", json={"mode": "melt"})

    assert answer.status_code == 422
    with standin.fault_control() as control:
        assert control.current().mode is FaultMode.NONE


def test_the_client_refuses_a_status_outside_5xx(faults: FaultControl) -> None:
    with pytest.raises(ValidationError):
        faults.switch_on("http_5xx", status=404)


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_statuses_are_transient(
    client: OdooClient, faults: FaultControl, status: int
) -> None:
    faults.switch_on("http_5xx", status=status, remaining=1)

    with pytest.raises(OdooTransientError) as caught:
        client.search_count("res.partner", [])

    assert caught.value.status == status
    assert not isinstance(caught.value, OdooServerError)


def test_status_500_is_a_server_error(client: OdooClient, faults: FaultControl) -> None:
    faults.switch_on("http_5xx", status=500, remaining=1)

    with pytest.raises(OdooServerError) as caught:
        client.search_count("res.partner", [])

    assert caught.value.status == 500


def test_429_carries_retry_after(client: OdooClient, faults: FaultControl) -> None:
    faults.switch_on("http_429", retry_after=7, remaining=1)

    with pytest.raises(OdooTransientError) as caught:
        client.search_count("res.partner", [])

    assert caught.value.status == 429
    assert caught.value.retry_after == 7.0


def test_serialization_failure_is_transient_and_commits_nothing(
    client: OdooClient, faults: FaultControl
) -> None:
    ref = unique_ref()
    faults.switch_on("serialization_failure", remaining=1)

    with pytest.raises(OdooTransientError) as caught:
        create_partner(client, ref)

    assert caught.value.name == "psycopg2.errors.SerializationFailure"
    assert not isinstance(caught.value, OdooServerError)
    assert partners_with(client, ref) == 0


def test_a_dropped_connection_is_transient_and_commits_nothing(
    client: OdooClient, faults: FaultControl
) -> None:
    ref = unique_ref()
    faults.switch_on("drop_connection", remaining=1)

    with pytest.raises(OdooTransientError):
        create_partner(client, ref)

    assert partners_with(client, ref) == 0


def test_commit_then_drop_commits_but_never_answers(
    client: OdooClient, faults: FaultControl
) -> None:
    ref = unique_ref()
    faults.switch_on("commit_then_drop", remaining=1)

    with pytest.raises(OdooTransientError):
        create_partner(client, ref)

    # The outcome the client could not learn: the record exists.
    assert partners_with(client, ref) == 1


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_latency_delays_the_answer(
    standin: RunningStandin, faults: FaultControl, protocol: str
) -> None:
    with open_client(standin, protocol) as client:
        faults.switch_on("latency", latency_ms=400, remaining=1)
        started = time.monotonic()
        client.search_count("res.partner", [])
        delayed = time.monotonic() - started

        started = time.monotonic()
        client.search_count("res.partner", [])
        undelayed = time.monotonic() - started

    assert delayed >= 0.4
    assert undelayed < 0.4


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_latency_beyond_the_timeout_is_transient(
    standin: RunningStandin, faults: FaultControl, protocol: str
) -> None:
    with open_client(standin, protocol, timeout_seconds=0.3) as client:
        faults.switch_on("latency", latency_ms=1500, remaining=1)

        with pytest.raises(OdooTransientError) as caught:
            client.search_count("res.partner", [])

    assert "Timeout" in caught.value.name


def test_remaining_counts_down_then_switches_off(
    client: OdooClient, faults: FaultControl
) -> None:
    faults.switch_on("http_5xx", status=503, remaining=2)

    with pytest.raises(OdooTransientError):
        client.search_count("res.partner", [])
    assert faults.current().remaining == 1
    with pytest.raises(OdooTransientError):
        client.search_count("res.partner", [])

    assert faults.current().mode is FaultMode.NONE
    assert client.search_count("res.partner", []) >= 0


def test_a_fault_without_remaining_stays_on(
    client: OdooClient, faults: FaultControl
) -> None:
    faults.switch_on("http_429")

    for _ in range(3):
        with pytest.raises(OdooTransientError):
            client.search_count("res.partner", [])

    assert faults.current().mode is FaultMode.HTTP_429
    assert faults.current().remaining is None


def test_models_limit_the_fault(client: OdooClient, faults: FaultControl) -> None:
    faults.switch_on("http_5xx", status=503, models=["sale.order"])

    assert client.search_count("res.partner", []) >= 0
    with pytest.raises(OdooTransientError):
        client.search_count("sale.order", [])
    assert faults.current().remaining is None


def test_switching_off_restores_normal_answers(
    client: OdooClient, faults: FaultControl
) -> None:
    ref = unique_ref()
    with faults.injected("drop_connection"), pytest.raises(OdooTransientError):
        create_partner(client, ref)

    assert create_partner(client, ref)
    assert partners_with(client, ref) == 1
