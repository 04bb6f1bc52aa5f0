"""Odoo client over the JSON-2 API of Odoo 19+ (``POST /json/2/<model>/<method>``)."""

from __future__ import annotations

import logging
from typing import Any

import httpx
from pydantic import SecretStr

from sinks.odoo.client import (
    MethodCall,
    OdooClient,
    OdooPermanentError,
    build_error,
    parse_retry_after,
    post_json,
)

logger = logging.getLogger(__name__)

USER_AGENT = "saas-odoo-pipeline"


class Json2Client(OdooClient):
    def __init__(
        self,
        url: str,
        database: str,
        api_key: SecretStr,
        *,
        timeout_seconds: float,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._url = url.rstrip("/")
        self._database = database
        self._http = httpx.Client(
            base_url=self._url,
            timeout=httpx.Timeout(timeout_seconds),
            headers={
                "Authorization": f"bearer {api_key.get_secret_value()}",
                "X-Odoo-Database": database,
                "User-Agent": USER_AGENT,
            },
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"Json2Client(url={self._url!r}, database={self._database!r})"

    def execute(self, call: MethodCall) -> Any:
        body: dict[str, Any] = dict(call.params)
        if call.ids is not None:
            body["ids"] = list(call.ids)
        return self._post(call.model, call.method, body)

    def call(self, model: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call ``model.method`` with named parameters (and ``ids=`` for records).

        JSON-2 binds every parameter by name, so positional arguments are refused.
        """
        if args:
            raise TypeError("JSON-2 calls take named parameters only")
        return self._post(model, method, kwargs)

    def close(self) -> None:
        self._http.close()

    def _post(self, model: str, method: str, body: dict[str, Any]) -> Any:
        response = post_json(
            self._http, self._url, f"/json/2/{model}/{method}", body, model, method
        )
        if response.status_code == 200:
            return _decode(response, model, method)
        raise _error_from(response, model, method)


def _decode(response: httpx.Response, model: str, method: str) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise OdooPermanentError(
            f"the answer is not JSON ({response.headers.get('content-type')})",
            name="InvalidResponse",
            model=model,
            method=method,
            status=response.status_code,
        ) from exc


def _error_from(response: httpx.Response, model: str, method: str) -> Exception:
    """The error for a non-200 answer, from Odoo's error object when there is one."""
    name, message = "", response.reason_phrase or f"HTTP {response.status_code}"
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        name = str(payload.get("name") or "")
        message = str(payload.get("message") or message)
    error = build_error(
        name,
        message,
        model=model,
        method=method,
        status=response.status_code,
        retry_after=parse_retry_after(response.headers.get("retry-after")),
    )
    logger.debug("%s.%s answered %d %s", model, method, response.status_code, name)
    return error
