"""How the Odoo clients turn transport failures and Odoo's answers into errors."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from sinks.odoo import (
    Json2Client,
    JsonRpcClient,
    OdooAccessDenied,
    OdooError,
    OdooMissingRecord,
    OdooPermanentError,
    OdooServerError,
    OdooTransientError,
    OdooValidationError,
)
from sinks.odoo.client import error_class, parse_retry_after

API_KEY = "k3y-that-must-never-leak"
Handler = Callable[[httpx.Request], httpx.Response]


def json2_client(handler: Handler) -> Json2Client:
    return Json2Client(
        "http://odoo.test",
        "db",
        SecretStr(API_KEY),
        timeout_seconds=1.0,
        transport=httpx.MockTransport(handler),
    )


def jsonrpc_client(handler: Handler) -> JsonRpcClient:
    return JsonRpcClient(
        "http://odoo.test",
        "db",
        "sink",
        SecretStr(API_KEY),
        timeout_seconds=1.0,
        transport=httpx.MockTransport(handler),
    )


def odoo_error_body(name: str, message: str = "refused") -> dict[str, Any]:
    return {
        "name": name,
        "message": message,
        "arguments": [message],
        "context": {},
        "debug": "Traceback ...",
    }


def rpc_answer(request: httpx.Request, **member: Any) -> httpx.Response:
    request_id = json.loads(request.content)["id"]
    return httpx.Response(200, json={"jsonrpc": "2.0", "id": request_id, **member})


def rpc_server(execute: Handler) -> Handler:
    """A JSON-RPC server that accepts the login and hands every other call over."""

    def handle(request: httpx.Request) -> httpx.Response:
        params = json.loads(request.content)["params"]
        if params["service"] == "common" and params["method"] == "login":
            return rpc_answer(request, result=2)
        return execute(request)

    return handle


@pytest.mark.parametrize(
    ("name", "status", "expected"),
    [
        ("odoo.exceptions.ValidationError", 422, OdooValidationError),
        ("odoo.exceptions.UserError", 422, OdooValidationError),
        ("builtins.ValueError", 500, OdooValidationError),
        ("odoo.exceptions.AccessDenied", 403, OdooAccessDenied),
        ("odoo.exceptions.AccessError", 403, OdooAccessDenied),
        ("werkzeug.exceptions.Unauthorized", 401, OdooAccessDenied),
        ("odoo.exceptions.MissingError", 404, OdooMissingRecord),
        ("werkzeug.exceptions.NotFound", 404, OdooPermanentError),
        ("werkzeug.exceptions.BadRequest", 400, OdooPermanentError),
        ("psycopg2.errors.SerializationFailure", 500, OdooTransientError),
        ("", 429, OdooTransientError),
        ("", 502, OdooTransientError),
        ("", 503, OdooTransientError),
        ("", 504, OdooTransientError),
        ("", 418, OdooPermanentError),
        ("builtins.RuntimeError", 500, OdooServerError),
        ("builtins.RuntimeError", None, OdooServerError),
        ("odoo.exceptions.ValidationError", None, OdooValidationError),
    ],
)
def test_error_class_by_name_then_status(
    name: str, status: int | None, expected: type[OdooError]
) -> None:
    assert error_class(name, "message", status) is expected


def test_concurrent_update_message_is_transient_whatever_the_name() -> None:
    message = "could not serialize access due to concurrent update"
    assert error_class("builtins.Exception", message, 500) is OdooTransientError


def test_retry_after_in_seconds_or_as_a_date() -> None:
    now = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC)
    assert parse_retry_after("17") == 17.0
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_json2_sends_the_key_database_and_named_parameters() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[{"id": 1, "name": "A"}])

    with json2_client(handler) as odoo:
        rows = odoo.search_read("res.partner", [("name", "=", "A")], ["name"], limit=5)

    assert rows == [{"id": 1, "name": "A"}]
    [request] = seen
    assert request.url.path == "/json/2/res.partner/search_read"
    assert request.headers["authorization"] == f"bearer {API_KEY}"
    assert request.headers["x-odoo-database"] == "db"
    body = json.loads(request.content)
    assert body == {"domain": [["name", "=", "A"]], "fields": ["name"], "limit": 5}


def test_json2_write_sends_ids_and_vals() -> None:
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(200, json=True)

    with json2_client(handler) as odoo:
        assert odoo.write("res.partner", [4, 5], {"name": "B"}) is True
    assert seen == [{"ids": [4, 5], "vals": {"name": "B"}}]


def test_json2_rate_limit_is_transient_with_retry_after() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "12"}, text="slow down")

    with json2_client(handler) as odoo, pytest.raises(OdooTransientError) as caught:
        odoo.search("res.partner", [])
    assert caught.value.retry_after == 12.0
    assert caught.value.status == 429
    assert (caught.value.model, caught.value.method) == ("res.partner", "search")


@pytest.mark.parametrize("status", [502, 503, 504])
def test_json2_gateway_errors_are_transient(status: int) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, text="<html>bad gateway</html>")

    with json2_client(handler) as odoo, pytest.raises(OdooTransientError):
        odoo.search_count("res.partner", [])


def test_json2_validation_error_keeps_odoo_name_and_message() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = odoo_error_body("odoo.exceptions.ValidationError", "record 2: bad")
        return httpx.Response(422, json=body)

    with json2_client(handler) as odoo, pytest.raises(OdooValidationError) as caught:
        odoo.create("helpdesk.ticket", [{"name": "x"}])
    error = caught.value
    assert (error.name, error.message, error.status) == (
        "odoo.exceptions.ValidationError",
        "record 2: bad",
        422,
    )
    assert "helpdesk.ticket.create" in str(error)


def test_json2_serialization_failure_is_transient() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = odoo_error_body("psycopg2.errors.SerializationFailure", "conflict")
        return httpx.Response(500, json=body)

    with json2_client(handler) as odoo, pytest.raises(OdooTransientError):
        odoo.write("res.partner", [1], {"name": "x"})


def test_timeouts_and_connection_errors_are_transient() -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with json2_client(timeout) as odoo, pytest.raises(OdooTransientError):
        odoo.search("res.partner", [])
    with jsonrpc_client(refused) as odoo, pytest.raises(OdooTransientError):
        odoo.search("res.partner", [])


def test_non_json_success_is_permanent() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>login page</html>")

    with json2_client(handler) as odoo, pytest.raises(OdooPermanentError):
        odoo.search("res.partner", [])


def test_jsonrpc_logs_in_once_and_sends_execute_kw() -> None:
    calls: list[dict[str, Any]] = []

    def execute(request: httpx.Request) -> httpx.Response:
        calls.append(json.loads(request.content)["params"])
        return rpc_answer(request, result=[7])

    logins: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if json.loads(request.content)["params"]["method"] == "login":
            logins.append(1)
        return rpc_server(execute)(request)

    with jsonrpc_client(handler) as odoo:
        assert odoo.search("res.partner", [("ref", "=", "r")], limit=1) == [7]
        assert odoo.create("res.partner", [{"name": "n"}]) == [7]

    assert logins == [1]
    search, create = calls
    assert search["service"] == "object" and search["method"] == "execute_kw"
    assert search["args"] == [
        "db",
        2,
        API_KEY,
        "res.partner",
        "search",
        [[["ref", "=", "r"]]],
        {"limit": 1},
    ]
    assert create["args"][4:] == ["create", [[{"name": "n"}]], {}]


def test_jsonrpc_error_inside_http_200_is_an_error() -> None:
    def execute(request: httpx.Request) -> httpx.Response:
        error = {
            "code": 200,
            "message": "Odoo Server Error",
            "data": odoo_error_body("odoo.exceptions.MissingError", "gone"),
        }
        return rpc_answer(request, error=error)

    odoo = jsonrpc_client(rpc_server(execute))
    with odoo, pytest.raises(OdooMissingRecord) as caught:
        odoo.write("res.partner", [1], {"name": "x"})
    assert caught.value.name == "odoo.exceptions.MissingError"
    assert caught.value.message == "gone"


def test_jsonrpc_refused_login_is_access_denied_without_the_key() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return rpc_answer(request, result=False)

    odoo = jsonrpc_client(handler)
    with pytest.raises(OdooAccessDenied) as caught:
        odoo.search("res.partner", [])
    assert API_KEY not in str(caught.value)
    assert API_KEY not in repr(caught.value)
    assert API_KEY not in repr(odoo)
    odoo.close()


def test_jsonrpc_http_error_status_is_classified() -> None:
    def execute(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, headers={"Retry-After": "3"})

    odoo = jsonrpc_client(rpc_server(execute))
    with odoo, pytest.raises(OdooTransientError) as caught:
        odoo.search("res.partner", [])
    assert caught.value.retry_after == 3.0


def test_json2_generic_call_takes_named_parameters_only() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=json.loads(request.content))

    with json2_client(handler) as odoo:
        assert odoo.call("res.partner", "read", ids=[1], fields=["name"]) == {
            "ids": [1],
            "fields": ["name"],
        }
        with pytest.raises(TypeError):
            odoo.call("res.partner", "read", [1])
