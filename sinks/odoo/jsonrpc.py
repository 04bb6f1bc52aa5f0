"""Odoo client over the JSON-RPC API of Odoo 18 and earlier (``execute_kw``).

The client logs in once (``common.login``) and keeps the uid; every call then goes
through ``object.execute_kw`` with the API key as password. Odoo reports errors inside
an HTTP 200 answer, in the ``error`` member, so the status alone never means success.
"""

from __future__ import annotations

import itertools
import logging
from typing import Any

import httpx
from pydantic import SecretStr

from sinks.odoo.client import (
    MethodCall,
    OdooAccessDenied,
    OdooClient,
    OdooPermanentError,
    build_error,
    parse_retry_after,
    post_json,
)

logger = logging.getLogger(__name__)


class JsonRpcClient(OdooClient):
    def __init__(
        self,
        url: str,
        database: str,
        login: str,
        api_key: SecretStr,
        *,
        timeout_seconds: float,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._url = url.rstrip("/")
        self._database = database
        self._login = login
        self._api_key = api_key
        self._uid: int | None = None
        self._request_ids = itertools.count(1)
        self._http = httpx.Client(
            base_url=self._url,
            timeout=httpx.Timeout(timeout_seconds),
            transport=transport,
        )

    def __repr__(self) -> str:
        return (
            f"JsonRpcClient(url={self._url!r}, database={self._database!r}, "
            f"login={self._login!r})"
        )

    @property
    def uid(self) -> int:
        """The logged-in user's id, logging in on first use."""
        if self._uid is None:
            self._uid = self._authenticate()
        return self._uid

    def execute(self, call: MethodCall) -> Any:
        params = dict(call.params)
        args: list[Any] = [] if call.ids is None else [list(call.ids)]
        args += [params.pop(name) for name in call.positional if name in params]
        return self._execute_kw(call.model, call.method, args, params)

    def call(self, model: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """``execute_kw(model, method, args, kwargs)``: record ids go first in args."""
        return self._execute_kw(model, method, list(args), kwargs)

    def close(self) -> None:
        self._http.close()

    def _authenticate(self) -> int:
        uid = self._rpc(
            "common",
            "login",
            [self._database, self._login, self._api_key.get_secret_value()],
            model="",
            method="login",
        )
        if not isinstance(uid, int) or isinstance(uid, bool) or uid <= 0:
            raise OdooAccessDenied(
                f"login {self._login!r} refused on database {self._database!r}",
                name="odoo.exceptions.AccessDenied",
                method="login",
            )
        logger.info("logged in to %s as uid %d", self._database, uid)
        return uid

    def _execute_kw(
        self, model: str, method: str, args: list[Any], kwargs: dict[str, Any]
    ) -> Any:
        secret = self._api_key.get_secret_value()
        call_args = [self._database, self.uid, secret, model, method, args, kwargs]
        return self._rpc("object", "execute_kw", call_args, model=model, method=method)

    def _rpc(
        self, service: str, function: str, args: list[Any], *, model: str, method: str
    ) -> Any:
        request_id = next(self._request_ids)
        envelope = {
            "jsonrpc": "2.0",
            "method": "call",
            "params": {"service": service, "method": function, "args": args},
            "id": request_id,
        }
        response = self._send(envelope, model, method)
        if response.status_code != 200:
            raise build_error(
                _error_name(response),
                response.reason_phrase or f"HTTP {response.status_code}",
                model=model,
                method=method,
                status=response.status_code,
                retry_after=parse_retry_after(response.headers.get("retry-after")),
            )
        answer = _decode(response, model, method)
        if answer.get("error") is not None:
            raise _error_from(answer["error"], model, method)
        if "result" not in answer:
            raise OdooPermanentError(
                "the answer has neither result nor error",
                name="InvalidResponse",
                model=model,
                method=method,
            )
        return answer["result"]

    def _send(
        self, envelope: dict[str, Any], model: str, method: str
    ) -> httpx.Response:
        return post_json(self._http, self._url, "/jsonrpc", envelope, model, method)


def _decode(response: httpx.Response, model: str, method: str) -> dict[str, Any]:
    try:
        answer = response.json()
    except ValueError as exc:
        raise OdooPermanentError(
            "the answer is not JSON", name="InvalidResponse", model=model, method=method
        ) from exc
    if not isinstance(answer, dict):
        raise OdooPermanentError(
            "the answer is not a JSON-RPC object",
            name="InvalidResponse",
            model=model,
            method=method,
        )
    return answer


def _error_from(error: Any, model: str, method: str) -> Exception:
    data = error.get("data") if isinstance(error, dict) else None
    if not isinstance(data, dict):
        data = {}
    name = str(data.get("name") or "")
    message = str(data.get("message") or (error or {}).get("message") or "")
    # Odoo gives code 404 (and name werkzeug NotFound) for routes that do not exist;
    # every other server error comes as code 200 with the exception's name.
    status = 404 if isinstance(error, dict) and error.get("code") == 404 else None
    return build_error(name, message, model=model, method=method, status=status)


def _error_name(response: httpx.Response) -> str:
    try:
        answer = response.json()
    except ValueError:
        return ""
    if isinstance(answer, dict) and isinstance(answer.get("error"), dict):
        data = answer["error"].get("data")
        if isinstance(data, dict):
            return str(data.get("name") or "")
    return ""
