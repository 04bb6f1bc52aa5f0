"""Both Odoo clients against the stand-in over HTTP, and the stand-in's wire formats."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from standin_fixture import PROTOCOLS, RunningStandin, running_standin

from sinks.odoo import (
    Json2Client,
    JsonRpcClient,
    OdooAccessDenied,
    OdooClient,
    OdooMissingRecord,
    OdooPermanentError,
    OdooTransientError,
    OdooValidationError,
    make_client,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStandin]:
    with running_standin(tmp_path_factory.mktemp("standin")) as server:
        yield server


@pytest.fixture(params=PROTOCOLS)
def client(
    request: pytest.FixtureRequest, standin: RunningStandin
) -> Iterator[OdooClient]:
    with make_client(standin.settings(request.param)) as odoo:
        yield odoo


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def json2_headers(standin: RunningStandin, key: str | None = None) -> dict[str, str]:
    return {
        "Authorization": f"bearer {key or standin.api_key}",
        "X-Odoo-Database": standin.database,
    }


def rpc_envelope(service: str, method: str, args: list[Any]) -> dict[str, Any]:
    params = {"service": service, "method": method, "args": args}
    return {"jsonrpc": "2.0", "method": "call", "params": params, "id": 7}


def execute_kw(
    standin: RunningStandin,
    uid: int,
    api_key: str,
    model: str,
    method: str,
    args: list[Any],
) -> httpx.Response:
    """An ORM call over ``/jsonrpc`` as Odoo's external API sends it, without keyword
    arguments."""
    return httpx.post(
        f"{standin.url}/jsonrpc",
        json=rpc_envelope(
            "object",
            "execute_kw",
            [standin.database, uid, api_key, model, method, args, {}],
        ),
    )


def test_make_client_picks_the_protocol(standin: RunningStandin) -> None:
    with make_client(standin.settings("json2")) as json2:
        assert isinstance(json2, Json2Client)
    with make_client(standin.settings("jsonrpc")) as jsonrpc:
        assert isinstance(jsonrpc, JsonRpcClient)


def test_create_read_write_unlink_and_count(client: OdooClient) -> None:
    marker = unique("crud")
    ids = client.create(
        "res.partner",
        [
            {"name": "Alpha Ltd", "ref": marker, "is_company": True},
            {"name": "Beta Ltd", "ref": marker, "is_company": True},
        ],
    )
    assert len(ids) == 2 and ids[0] != ids[1]

    rows = client.search_read(
        "res.partner", [("ref", "=", marker)], ["name", "email"], order="name desc"
    )
    assert [row["name"] for row in rows] == ["Beta Ltd", "Alpha Ltd"]
    assert all(row["email"] is False and "id" in row for row in rows)
    assert client.search_count("res.partner", [("ref", "=", marker)]) == 2

    assert client.write("res.partner", [ids[0]], {"email": "ops@alpha.example"}) is True
    [alpha] = client.read("res.partner", [ids[0]], ["email"])
    assert alpha == {"id": ids[0], "email": "ops@alpha.example"}

    page = client.search("res.partner", [("ref", "=", marker)], limit=1, offset=1)
    assert page == [ids[1]]

    assert client.unlink("res.partner", [ids[1]]) is True
    assert client.search("res.partner", [("ref", "=", marker)]) == [ids[0]]


def test_many2one_reads_as_id_and_display_name(client: OdooClient) -> None:
    [germany] = client.search("res.country", [("code", "=", "DE")])
    [company] = client.create(
        "res.partner",
        [{"name": unique("Parent"), "is_company": True, "country_id": germany}],
    )
    [contact] = client.create(
        "res.partner", [{"name": "Carla", "type": "contact", "parent_id": company}]
    )
    [company_row] = client.read("res.partner", [company], ["name", "country_id"])
    [row] = client.read("res.partner", [contact], ["parent_id", "country_id"])

    assert company_row["country_id"] == [germany, "Germany"]
    assert row["parent_id"] == [company, company_row["name"]]
    assert row["country_id"] is False


def test_dotted_path_through_many2one(client: OdooClient) -> None:
    ref = unique("dotted")
    [company] = client.create("res.partner", [{"name": "Dot Co", "ref": ref}])
    [contact] = client.create("res.partner", [{"name": "Dee", "parent_id": company}])
    assert client.search("res.partner", [("parent_id.ref", "=", ref)]) == [contact]


def test_archived_records_are_hidden_unless_the_domain_names_active(
    client: OdooClient,
) -> None:
    marker = unique("archive")
    [kept, archived] = client.create(
        "res.partner",
        [{"name": "Kept", "ref": marker}, {"name": "Gone", "ref": marker}],
    )
    client.write("res.partner", [archived], {"active": False})

    assert client.search("res.partner", [("ref", "=", marker)]) == [kept]
    everything = client.search(
        "res.partner", [("ref", "=", marker), ("active", "in", [True, False])]
    )
    assert sorted(everything) == sorted([kept, archived])
    assert client.search(
        "res.partner", [("ref", "=", marker), ("active", "=", False)]
    ) == [archived]


def test_external_ids_through_ir_model_data(client: OdooClient) -> None:
    name = unique("account").replace("-", "_")
    [partner] = client.create("res.partner", [{"name": "Xmlid Co"}])
    external_id = {
        "module": "saas_pipeline",
        "name": name,
        "model": "res.partner",
        "res_id": partner,
    }
    client.create("ir.model.data", [external_id])

    rows = client.search_read(
        "ir.model.data",
        [("module", "=", "saas_pipeline"), ("name", "=", name)],
        ["model", "res_id", "complete_name"],
    )
    assert rows == [
        {
            "id": rows[0]["id"],
            "model": "res.partner",
            "res_id": partner,
            "complete_name": f"saas_pipeline.{name}",
        }
    ]

    with pytest.raises(OdooValidationError, match="already exists"):
        client.create("ir.model.data", [external_id])

    # Deleting a record deletes its external ids, as in Odoo.
    client.unlink("res.partner", [partner])
    assert client.search_count("ir.model.data", [("name", "=", name)]) == 0


def test_batch_with_one_invalid_record_stores_nothing(client: OdooClient) -> None:
    marker = unique("batch")
    batch = [
        {"name": "first", "x_ticket_id": marker, "priority": "1"},
        {"name": "second", "x_ticket_id": marker, "priority": "urgent"},
        {"name": "third", "x_ticket_id": marker, "priority": "3"},
    ]
    with pytest.raises(OdooValidationError) as caught:
        client.create("helpdesk.ticket", batch)

    assert caught.value.name == "odoo.exceptions.ValidationError"
    assert "record 2 of 3" in caught.value.message
    assert "'second'" in caught.value.message and "priority" in caught.value.message
    assert caught.value.model == "helpdesk.ticket"
    assert caught.value.method == "create"
    assert client.search_count("helpdesk.ticket", [("x_ticket_id", "=", marker)]) == 0


def test_unknown_field_is_a_permanent_validation_error(client: OdooClient) -> None:
    with pytest.raises(OdooValidationError, match="x_not_a_field"):
        client.create("res.partner", [{"name": "Nope", "x_not_a_field": 1}])
    with pytest.raises(OdooValidationError, match="x_not_a_field"):
        client.search("res.partner", [("x_not_a_field", "=", 1)])


def test_integer_fields_hold_64_bit_values(client: OdooClient) -> None:
    version = 2**62 + 12345
    [record] = client.create(
        "res.partner", [{"name": "Big", "x_source_version": version}]
    )
    [row] = client.read("res.partner", [record], ["x_source_version"])
    assert row["x_source_version"] == version
    found = client.search("res.partner", [("x_source_version", ">=", version)])
    assert record in found


def test_missing_record_and_unknown_model(client: OdooClient) -> None:
    [record] = client.create("res.partner", [{"name": "Short-lived"}])
    client.unlink("res.partner", [record])
    with pytest.raises(OdooMissingRecord):
        client.write("res.partner", [record], {"name": "Back"})

    with pytest.raises(OdooPermanentError) as caught:
        client.search("no.such.model", [])
    assert not isinstance(caught.value, OdooTransientError)


def test_json2_bad_key_is_access_denied(standin: RunningStandin) -> None:
    settings = standin.settings("json2").model_copy(
        update={"api_key": SecretStr("wrong-key")}
    )
    with make_client(settings) as odoo, pytest.raises(OdooAccessDenied) as caught:
        odoo.search("res.partner", [])
    assert caught.value.status == 401
    assert "wrong-key" not in str(caught.value) and "wrong-key" not in repr(odoo)


def test_jsonrpc_bad_key_is_access_denied(standin: RunningStandin) -> None:
    settings = standin.settings("jsonrpc").model_copy(
        update={"api_key": SecretStr("wrong-key")}
    )
    with make_client(settings) as odoo, pytest.raises(OdooAccessDenied) as caught:
        odoo.search("res.partner", [])
    assert "wrong-key" not in str(caught.value) and "wrong-key" not in repr(odoo)


def test_generic_call(standin: RunningStandin) -> None:
    with make_client(standin.settings("jsonrpc")) as rpc:
        [partner] = rpc.call("res.partner", "create", [{"name": "Generic"}])
        assert (
            rpc.call("res.partner", "read", [partner], ["name"])[0]["name"] == "Generic"
        )
    with make_client(standin.settings("json2")) as json2:
        rows = json2.call("res.partner", "read", ids=[partner], fields=["name"])
        assert rows == [{"id": partner, "name": "Generic"}]


# -- raw wire formats ---------------------------------------------------------------


def assert_json2_error(
    response: httpx.Response, status: int, name: str
) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"name", "message", "arguments", "context", "debug"}
    assert body["name"] == name
    assert isinstance(body["message"], str) and body["message"]
    assert body["arguments"][0] == body["message"]
    assert isinstance(body["context"], dict)
    assert isinstance(body["debug"], str)
    return body


def test_json2_error_bodies(standin: RunningStandin) -> None:
    base = f"{standin.url}/json/2"
    headers = json2_headers(standin)

    unauthorized = httpx.post(
        f"{base}/res.partner/search",
        json={"domain": []},
        headers=json2_headers(standin, key="wrong"),
    )
    body = assert_json2_error(unauthorized, 401, "werkzeug.exceptions.Unauthorized")
    assert body["arguments"] == [body["message"], 401]

    no_database = httpx.post(
        f"{base}/res.partner/search",
        json={"domain": []},
        headers={"Authorization": f"bearer {standin.api_key}"},
    )
    assert_json2_error(no_database, 401, "werkzeug.exceptions.Unauthorized")

    unknown_model = httpx.post(f"{base}/no.model/search", json={}, headers=headers)
    assert_json2_error(unknown_model, 404, "werkzeug.exceptions.NotFound")

    unknown_method = httpx.post(f"{base}/res.partner/nope", json={}, headers=headers)
    assert_json2_error(unknown_method, 404, "werkzeug.exceptions.NotFound")

    invalid = httpx.post(
        f"{base}/helpdesk.ticket/create",
        json={
            "vals_list": [{"name": "t", "priority": "9"}],
            "context": {"lang": "en_US"},
        },
        headers=headers,
    )
    body = assert_json2_error(invalid, 422, "odoo.exceptions.ValidationError")
    assert body["context"] == {"lang": "en_US"}

    missing = httpx.post(
        f"{base}/res.partner/read",
        json={"ids": [10**9], "fields": ["name"]},
        headers=headers,
    )
    assert_json2_error(missing, 404, "odoo.exceptions.MissingError")

    bad_field = httpx.post(
        f"{base}/res.partner/search",
        json={"domain": [["nope", "=", 1]]},
        headers=headers,
    )
    assert_json2_error(bad_field, 500, "builtins.ValueError")

    bad_json = httpx.post(
        f"{base}/res.partner/search",
        content=b"{not json",
        headers={**headers, "Content-Type": "application/json"},
    )
    assert_json2_error(bad_json, 400, "werkzeug.exceptions.BadRequest")


def test_json2_success_body_is_the_return_value(standin: RunningStandin) -> None:
    response = httpx.post(
        f"{standin.url}/json/2/res.country/search_read",
        json={"domain": [["code", "=", "FR"]], "fields": ["code"]},
        headers=json2_headers(standin),
    )
    assert response.status_code == 200
    assert response.json() == [{"id": response.json()[0]["id"], "code": "FR"}]
    created = httpx.post(
        f"{standin.url}/json/2/res.partner/create",
        json={"vals_list": [{"name": "Json2 list"}]},
        headers=json2_headers(standin),
    )
    assert isinstance(created.json(), list) and len(created.json()) == 1


def test_jsonrpc_error_envelope(standin: RunningStandin) -> None:
    login = httpx.post(
        f"{standin.url}/jsonrpc",
        json=rpc_envelope(
            "common", "login", [standin.database, standin.login, standin.api_key]
        ),
    )
    uid = login.json()["result"]
    assert isinstance(uid, int) and uid > 0

    wrong = httpx.post(
        f"{standin.url}/jsonrpc",
        json=rpc_envelope("common", "login", [standin.database, standin.login, "x"]),
    )
    assert wrong.json()["result"] is False

    invalid = execute_kw(
        standin,
        uid,
        standin.api_key,
        "helpdesk.ticket",
        "create",
        [[{"name": "t", "priority": "9"}]],
    )
    assert invalid.status_code == 200
    answer = invalid.json()
    assert answer["jsonrpc"] == "2.0" and answer["id"] == 7 and "result" not in answer
    error = answer["error"]
    assert error["code"] == 200 and error["message"] == "Odoo Server Error"
    assert error["data"]["name"] == "odoo.exceptions.ValidationError"
    assert set(error["data"]) == {"name", "message", "arguments", "context", "debug"}

    denied = execute_kw(standin, uid, "wrong", "res.partner", "search", [[]])
    assert denied.status_code == 200
    assert denied.json()["error"]["data"]["name"] == "odoo.exceptions.AccessDenied"

    single = execute_kw(
        standin,
        uid,
        standin.api_key,
        "res.partner",
        "create",
        [{"name": "single dict"}],
    )
    assert isinstance(single.json()["result"], int)


def test_jsonrpc_client_maps_errors_from_http_200(standin: RunningStandin) -> None:
    with make_client(standin.settings("jsonrpc")) as odoo:
        with pytest.raises(OdooValidationError) as caught:
            odoo.create("helpdesk.ticket", [{"name": "bad", "priority": "9"}])
        assert caught.value.name == "odoo.exceptions.ValidationError"
        assert caught.value.status is None
        with pytest.raises(OdooMissingRecord):
            odoo.read("res.partner", [10**9], ["name"])
