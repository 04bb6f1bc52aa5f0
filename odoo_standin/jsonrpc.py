"""The JSON-RPC protocol of Odoo 18 and earlier, as the ``odoorpc`` library uses it.

``POST /jsonrpc`` takes ``{"jsonrpc": "2.0", "method": "call", "params": {"service",
"method", "args"}, "id"}`` for the ``common`` (``login``, ``authenticate``, ``version``),
``object`` (``execute``, ``execute_kw``) and ``db`` (``list``, ``server_version``)
services. ``/web/webclient/version_info`` and ``/web/database/list`` answer the same
envelope. Errors come back with HTTP 200 and an ``error`` member: ``{"code": 200,
"message": "Odoo Server Error", "data": {name, message, arguments, context, debug}}``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from odoo_standin.auth import Credentials
from odoo_standin.exceptions import (
    AccessDenied,
    BadRequest,
    InvalidArguments,
    NotFound,
    StandinError,
    UnknownMethod,
    UserError,
    serialize_error,
)
from odoo_standin.orm import Orm, Records

logger = logging.getLogger(__name__)

# The Odoo series the stand-in claims; odoorpc picks its login route from the major.
SERVER_VERSION = "17.0"
SERVER_VERSION_INFO = [17, 0, 0, "final", 0, ""]


class JsonRpcEndpoint:
    def __init__(self, orm: Orm, credentials: Credentials, uid: int) -> None:
        self._orm = orm
        self._credentials = credentials
        self._uid = uid
        self._services: dict[tuple[str, str], Callable[..., Any]] = {
            ("common", "version"): self._version,
            ("common", "login"): self._login,
            ("common", "authenticate"): self._authenticate,
            ("db", "list"): self._database_list,
            ("db", "server_version"): lambda: SERVER_VERSION,
            ("object", "execute"): self._execute,
            ("object", "execute_kw"): self._execute_kw,
        }

    def routes(self) -> list[Route]:
        return [
            Route("/jsonrpc", self.dispatch, methods=["POST"]),
            Route("/web/webclient/version_info", self.version_info, methods=["POST"]),
            Route("/web/database/list", self.database_list, methods=["POST"]),
        ]

    async def dispatch(self, request: Request) -> Response:
        return await self._answer(request, self._call_service)

    async def version_info(self, request: Request) -> Response:
        return await self._answer(request, lambda params: self._version())

    async def database_list(self, request: Request) -> Response:
        return await self._answer(request, lambda params: self._database_list())

    async def _answer(
        self, request: Request, handler: Callable[[dict[str, Any]], Any]
    ) -> Response:
        request_id: Any = None
        try:
            envelope = _read_envelope(await request.body())
            request_id = envelope.get("id")
            params = envelope.get("params") or {}
            if not isinstance(params, dict):
                raise BadRequest("params must be a json object")
            result = await run_in_threadpool(handler, params)
        except Exception as exc:
            return _error_response(exc, request_id)
        if isinstance(result, Records):
            result = result.ids[0] if result.single else result.ids
        return JSONResponse({"jsonrpc": "2.0", "id": request_id, "result": result})

    def _call_service(self, params: dict[str, Any]) -> Any:
        service, method = params.get("service"), params.get("method")
        args = params.get("args") or []
        if not isinstance(args, list):
            raise BadRequest("args must be a json array")
        handler = self._services.get((service, method))  # type: ignore[arg-type]
        if handler is None:
            raise NotFound(f"no method {method!r} in service {service!r}")
        try:
            return handler(*args)
        except TypeError as exc:
            raise InvalidArguments(f"{service}.{method}: {exc}") from exc

    # -- common and db services ---------------------------------------------------

    def _version(self) -> dict[str, Any]:
        return {
            "server_version": SERVER_VERSION,
            "server_version_info": SERVER_VERSION_INFO,
            "server_serie": SERVER_VERSION,
            "protocol_version": 1,
        }

    def _database_list(self) -> list[str]:
        return [self._credentials.database]

    def _login(self, db: str, login: str, password: str) -> int | bool:
        if (
            db == self._credentials.database
            and login == self._credentials.login
            and self._credentials.accepts_secret(password)
        ):
            return self._uid
        logger.info("login refused for %r on database %r", login, db)
        return False

    def _authenticate(
        self, db: str, login: str, password: str, user_agent_env: Any = None
    ) -> int | bool:
        return self._login(db, login, password)

    # -- object service -----------------------------------------------------------

    def _execute(
        self, db: str, uid: int, password: str, model: str, method: str, *args: Any
    ) -> Any:
        return self._execute_kw(db, uid, password, model, method, list(args), {})

    def _execute_kw(
        self,
        db: str,
        uid: int,
        password: str,
        model: str,
        method: str,
        args: list[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        if (
            db != self._credentials.database
            or uid != self._uid
            or not self._credentials.accepts_secret(password)
        ):
            raise AccessDenied()
        args = list(args or [])
        kwargs = dict(kwargs or {})
        context = kwargs.pop("context", None) or {}
        if self._orm.model(model) is None:
            raise UserError(f"Object {model} doesn't exist")
        spec = self._orm.method(model, method)
        if spec is None:
            raise UnknownMethod(
                f"The method '{method}' does not exist on the model '{model}'"
            )
        ids: Any = []
        if spec.on_records:
            if not args:
                raise InvalidArguments(f"{model}.{method}() needs the record ids first")
            ids, args = args[0], args[1:]
        return self._orm.execute(
            model, method, ids=ids, args=args, kwargs=kwargs, context=context
        )


def _read_envelope(body: bytes) -> dict[str, Any]:
    try:
        envelope = json.loads(body or b"{}")
    except ValueError as exc:
        raise BadRequest(f"could not parse the body as json: {exc}") from exc
    if not isinstance(envelope, dict):
        raise BadRequest("a JSON-RPC request is a json object")
    return envelope


def error_envelope(exc: Exception, request_id: Any) -> dict[str, Any]:
    """The JSON-RPC answer Odoo gives for ``exc`` (sent with HTTP 200)."""
    data = serialize_error(exc, {})
    if isinstance(exc, NotFound):
        error = {"code": 404, "message": "404: Not Found", "data": data}
    else:
        error = {"code": 200, "message": "Odoo Server Error", "data": data}
    return {"jsonrpc": "2.0", "id": request_id, "error": error}


def _error_response(exc: Exception, request_id: Any) -> JSONResponse:
    if isinstance(exc, StandinError):
        logger.info("JSON-RPC call refused: %s", exc)
    else:
        logger.exception("JSON-RPC call failed")
    # Odoo answers JSON-RPC errors with HTTP 200; the error member is what tells.
    return JSONResponse(error_envelope(exc, request_id))
