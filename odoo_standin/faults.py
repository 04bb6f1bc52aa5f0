"""Switchable faults for testing the sink's failure paths. A test facility, not Odoo.

``FaultInjector`` wraps the stand-in's application. While a fault is switched on, the
protocol calls it matches (``/json/2/...`` and ``/jsonrpc``) fail the way a real Odoo,
or the proxy in front of it, can fail:

=========================  ==============================================================
mode                       effect on a matching call
=========================  ==============================================================
``none``                   no fault (the default)
``latency``                sleep ``latency_ms`` and then answer normally
``http_5xx``               answer ``status`` (500-599): JSON-2 with an Odoo error body,
                           JSON-RPC with a bare HTTP status as a proxy would
``http_429``               answer 429 with ``Retry-After: retry_after``
``serialization_failure``  Odoo's answer to a PostgreSQL serialization failure
                           (``psycopg2.errors.SerializationFailure``; JSON-2 status 500,
                           JSON-RPC an error envelope); the call is never executed, so
                           nothing is committed
``drop_connection``        close the connection without answering; nothing is executed
``commit_then_drop``       execute and commit the call, then close the connection
                           without answering: the "outcome unknown" case
=========================  ==============================================================

``latency_ms`` also delays the other modes. ``remaining`` limits the fault to the next N
matching calls (``null``: until switched off) and counts down; ``models`` limits it to
calls on those models (JSON-RPC ``login`` and other calls without a model then pass).

The switch is ``/__standin__/faults``: ``GET`` answers the current setting, ``POST``
with a JSON setting replaces it (``{"mode": "none"}`` switches faults off). Real Odoo has
no such route. ``odoo_standin.fault_control.FaultControl`` is the client tests use.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import JSONResponse, Response

from odoo_standin.exceptions import (
    SerializationFailure,
    ServiceFailure,
    TooManyRequests,
    serialize_error,
)
from odoo_standin.jsonrpc import error_envelope

logger = logging.getLogger(__name__)

FAULT_ROUTE = "/__standin__/faults"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class FaultMode(StrEnum):
    NONE = "none"
    LATENCY = "latency"
    HTTP_5XX = "http_5xx"
    HTTP_429 = "http_429"
    SERIALIZATION_FAILURE = "serialization_failure"
    DROP_CONNECTION = "drop_connection"
    COMMIT_THEN_DROP = "commit_then_drop"


class FaultSetting(BaseModel):
    """The fault switched on, as the admin route reads and writes it."""

    model_config = ConfigDict(extra="forbid")

    mode: FaultMode = FaultMode.NONE
    status: int = Field(503, ge=500, le=599)
    latency_ms: int = Field(0, ge=0, le=120_000)
    retry_after: int = Field(1, ge=0)
    remaining: int | None = Field(None, ge=0)
    models: list[str] | None = None


class FaultSwitch:
    """The current fault; ``take`` decides whether one call gets it and counts down.

    The stand-in serves from one event loop and ``take`` never awaits, so no lock is
    needed.
    """

    def __init__(self) -> None:
        self._setting = FaultSetting()

    @property
    def setting(self) -> FaultSetting:
        return self._setting.model_copy()

    def switch(self, setting: FaultSetting) -> None:
        self._setting = setting.model_copy()
        if setting.mode is FaultMode.NONE:
            logger.info("faults switched off")
        else:
            logger.warning("fault switched on: %s", setting.model_dump_json())

    def take(self, model: str | None) -> FaultSetting | None:
        """The fault for one call on ``model`` (None: no fault)."""
        setting = self._setting
        if setting.mode is FaultMode.NONE or setting.remaining == 0:
            return None
        if setting.models is not None and model not in setting.models:
            return None
        if setting.remaining is not None:
            remaining = setting.remaining - 1
            update: dict[str, Any] = {"remaining": remaining}
            if remaining == 0:
                # Used up: the switch reads as off, as if the test had cleared it.
                update = {"mode": FaultMode.NONE, "remaining": None}
                logger.info("fault %s used up", setting.mode.value)
            self._setting = setting.model_copy(update=update)
        return setting


@dataclass(frozen=True)
class ProtocolCall:
    """What the injector needs to know about one request before passing it on."""

    protocol: str  # "json2" or "jsonrpc"
    model: str | None
    request_id: Any
    body: bytes


class FaultInjector:
    """ASGI application: the admin route, then faults in front of ``app``."""

    def __init__(self, app: AsgiApp, switch: FaultSwitch | None = None) -> None:
        self.app = app
        self.switch = switch or FaultSwitch()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path == FAULT_ROUTE:
            await self._admin(scope, receive, send)
            return
        protocol = _protocol_of(path)
        if protocol is None:
            await self.app(scope, receive, send)
            return

        # 1. Read the body once: JSON-RPC names the model inside it.
        call = _describe(protocol, path, await _read_body(receive))
        replay = _replaying(call.body, receive)

        # 2. Decide, delay, and answer (or not) as the fault says.
        fault = self.switch.take(call.model)
        if fault is None:
            await self.app(scope, replay, send)
            return
        if fault.latency_ms:
            await asyncio.sleep(fault.latency_ms / 1000)
        await self._inject(fault, call, scope, replay, send)

    async def _inject(
        self,
        fault: FaultSetting,
        call: ProtocolCall,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        logger.info("injecting %s into a %s call", fault.mode.value, call.protocol)
        match fault.mode:
            case FaultMode.LATENCY:
                await self.app(scope, receive, send)
            case FaultMode.HTTP_5XX:
                await _server_failure(fault.status, call)(scope, receive, send)
            case FaultMode.HTTP_429:
                await _too_many_requests(fault.retry_after, call)(scope, receive, send)
            case FaultMode.SERIALIZATION_FAILURE:
                await _serialization_failure(call)(scope, receive, send)
            case FaultMode.DROP_CONNECTION:
                await _drop_connection(send)
            case FaultMode.COMMIT_THEN_DROP:
                await self.app(scope, receive, _discard)
                await _drop_connection(send)
            case FaultMode.NONE:
                await self.app(scope, receive, send)

    async def _admin(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method == "POST":
            body = await _read_body(receive)
            try:
                setting = FaultSetting.model_validate_json(body or b"{}")
            except ValidationError as exc:
                refusal = JSONResponse(
                    {"error": json.loads(exc.json(include_url=False))},
                    status_code=422,
                )
                await refusal(scope, receive, send)
                return
            self.switch.switch(setting)
        elif method != "GET":
            await Response(status_code=405)(scope, receive, send)
            return
        answer = JSONResponse(self.switch.setting.model_dump(mode="json"))
        await answer(scope, receive, send)


def _protocol_of(path: str) -> str | None:
    if path.startswith("/json/2/"):
        return "json2"
    if path == "/jsonrpc":
        return "jsonrpc"
    return None


def _describe(protocol: str, path: str, body: bytes) -> ProtocolCall:
    if protocol == "json2":
        parts = path.split("/")
        model = parts[3] if len(parts) > 4 else None
        return ProtocolCall(protocol, model, None, body)
    try:
        envelope = json.loads(body or b"{}")
    except ValueError:
        return ProtocolCall(protocol, None, None, body)
    if not isinstance(envelope, dict):
        return ProtocolCall(protocol, None, None, body)
    params = envelope.get("params")
    model = None
    if isinstance(params, dict) and params.get("service") == "object":
        args = params.get("args")
        # execute and execute_kw both take (db, uid, password, model, method, ...).
        if isinstance(args, list) and len(args) > 3 and isinstance(args[3], str):
            model = args[3]
    return ProtocolCall(protocol, model, envelope.get("id"), body)


def _server_failure(status: int, call: ProtocolCall) -> Response:
    if call.protocol == "jsonrpc":
        # A proxy or load balancer answers for a JSON-RPC Odoo that is down: a bare
        # HTTP status with an HTML page, no JSON-RPC envelope.
        return _proxy_page(status, {})
    error = ServiceFailure(status)
    return JSONResponse(serialize_error(error, {}), status_code=status)


def _too_many_requests(retry_after: int, call: ProtocolCall) -> Response:
    headers = {"Retry-After": str(retry_after)}
    if call.protocol == "jsonrpc":
        return _proxy_page(429, headers)
    error = TooManyRequests()
    return JSONResponse(serialize_error(error, {}), status_code=429, headers=headers)


def _serialization_failure(call: ProtocolCall) -> Response:
    error = SerializationFailure()
    if call.protocol == "jsonrpc":
        return JSONResponse(error_envelope(error, call.request_id))
    return JSONResponse(serialize_error(error, {}), status_code=error.http_status)


def _proxy_page(status: int, headers: dict[str, str]) -> Response:
    page = f"<html><body><h1>{status}</h1></body></html>"
    return Response(page, status_code=status, media_type="text/html", headers=headers)


async def _drop_connection(send: Send) -> None:
    """Close the client's connection without an answer.

    ASGI has no message for this, so the transport is taken from uvicorn's
    per-request ``send`` (a bound method of its request cycle). The injector must
    therefore be the outermost application, as ``serve`` arranges.
    """
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if not isinstance(transport, asyncio.Transport):
        raise RuntimeError("cannot drop the connection: the server hides its transport")
    transport.abort()
    # Let uvicorn see the connection lost before the application returns, so it does
    # not try to answer on its own.
    for _ in range(3):
        await asyncio.sleep(0)


async def _discard(message: Message) -> None:
    return None


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the already-read body once, then the real channel."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if delivered:
            return await receive()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
