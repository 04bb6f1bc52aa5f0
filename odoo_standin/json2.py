"""The JSON-2 protocol of Odoo 19+: ``POST /json/2/<model>/<method>``.

The request carries ``Authorization: bearer <api key>`` and ``X-Odoo-Database``; its
body is a JSON object of named arguments (``ids``, ``context`` and the method's own
parameters). Success is a 200 with the method's return value as the body; an error is a
4xx/5xx status with ``{name, message, arguments, context, debug}`` where the status
follows Odoo: 401 bad key, 404 unknown model or method (and missing records), 403 access
denied, 422 user and validation errors or bad arguments, 400 unreadable body, 500 for
anything else.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from odoo_standin.auth import Credentials
from odoo_standin.exceptions import (
    BadRequest,
    InvalidArguments,
    NotFound,
    StandinError,
    Unauthorized,
    UnprocessableEntity,
    serialize_error,
    status_of,
)
from odoo_standin.orm import Orm, Records

logger = logging.getLogger(__name__)


class Json2Endpoint:
    def __init__(self, orm: Orm, credentials: Credentials) -> None:
        self._orm = orm
        self._credentials = credentials

    def routes(self) -> list[Route]:
        return [
            Route("/json/2/{model}/{method}", self.call, methods=["POST"]),
            Route(
                "/json/2/{rest:path}",
                self.unknown_route,
                methods=["GET", "POST", "PUT", "DELETE", "PATCH"],
            ),
            Route("/json/2", self.unknown_route, methods=["GET", "POST"]),
        ]

    async def call(self, request: Request) -> Response:
        context: dict[str, Any] = {}
        try:
            self._authenticate(request)
            params = await _read_params(request)
            context = _context(params.pop("context", None))
            ids = params.pop("ids", None) or []
            model = request.path_params["model"]
            method = request.path_params["method"]
            result = await run_in_threadpool(
                self._execute, model, method, ids, params, context
            )
        except Exception as exc:
            return _error_response(exc, context)
        if isinstance(result, Records):
            result = result.ids
        return JSONResponse(result)

    async def unknown_route(self, request: Request) -> Response:
        error = NotFound("Did you mean POST /json/2/<model>/<method>?")
        return _error_response(error, {})

    def _authenticate(self, request: Request) -> None:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not self._credentials.accepts_key(key.strip()):
            raise Unauthorized("Invalid apikey")
        database = request.headers.get("x-odoo-database")
        if database != self._credentials.database:
            raise Unauthorized(
                f"unknown database {database!r}: set the X-Odoo-Database header"
                if database
                else "missing X-Odoo-Database header"
            )

    def _execute(
        self,
        model: str,
        method: str,
        ids: Any,
        params: dict[str, Any],
        context: dict[str, Any],
    ) -> Any:
        if self._orm.model(model) is None:
            raise NotFound(f"the model {model!r} does not exist")
        spec = self._orm.method(model, method)
        if spec is None:
            raise NotFound(
                f"The method {method!r} does not exist on the model {model!r}"
            )
        if ids and not spec.on_records:
            raise UnprocessableEntity(f"cannot call {model}.{method} with ids")
        try:
            return self._orm.execute(
                model, method, ids=ids, kwargs=params, context=context
            )
        except InvalidArguments as exc:
            # Odoo binds the body to the method's signature before calling it and
            # answers a mismatch with 422.
            raise UnprocessableEntity(exc.message) from exc


async def _read_params(request: Request) -> dict[str, Any]:
    body = await request.body()
    if not body:
        return {}
    try:
        params = json.loads(body)
    except ValueError as exc:
        raise BadRequest(f"could not parse the body as json: {exc}") from exc
    if not isinstance(params, dict):
        raise BadRequest("could not parse the body, expecting a json object")
    return params


def _context(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UnprocessableEntity("context must be a json object")
    return value


def _error_response(exc: Exception, context: dict[str, Any]) -> JSONResponse:
    status = status_of(exc)
    if isinstance(exc, StandinError):
        logger.info("JSON-2 call refused (%d): %s", status, exc)
    else:
        logger.exception("JSON-2 call failed")
    return JSONResponse(serialize_error(exc, context), status_code=status)
