"""Errors the stand-in raises, named after the Odoo and werkzeug exceptions they mimic.

Both protocols serialise an error with the fully qualified name of the exception Odoo
would have raised (``odoo_name``), so clients can be tested against the real names::

    StandinError
    ├── UserError          odoo.exceptions.UserError            JSON-2 status 422
    │   ├── ValidationError    odoo.exceptions.ValidationError  422
    │   ├── AccessDenied       odoo.exceptions.AccessDenied     403
    │   ├── AccessError        odoo.exceptions.AccessError      403
    │   └── MissingError       odoo.exceptions.MissingError     404
    ├── InvalidValue       builtins.ValueError (unknown field, bad domain)  500
    ├── InvalidArguments   builtins.TypeError (bad method arguments)       500
    ├── UnknownMethod      builtins.AttributeError (JSON-RPC only)         500
    ├── SerializationFailure  psycopg2.errors.SerializationFailure          500
    └── HttpError          werkzeug.exceptions.* (status given by the subclass)
        ├── BadRequest 400, Unauthorized 401, NotFound 404, UnprocessableEntity 422
        └── TooManyRequests 429, ServiceFailure 5xx

``SerializationFailure``, ``TooManyRequests`` and ``ServiceFailure`` are raised only by
the switchable faults (``faults.py``): the stand-in itself never has them.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from typing import Any


class StandinError(Exception):
    odoo_name = "builtins.Exception"
    http_status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UserError(StandinError):
    odoo_name = "odoo.exceptions.UserError"
    http_status = 422


class ValidationError(UserError):
    odoo_name = "odoo.exceptions.ValidationError"


class AccessDenied(UserError):
    odoo_name = "odoo.exceptions.AccessDenied"
    http_status = 403

    def __init__(self, message: str = "Access Denied") -> None:
        super().__init__(message)


class AccessError(UserError):
    odoo_name = "odoo.exceptions.AccessError"
    http_status = 403


class MissingError(UserError):
    odoo_name = "odoo.exceptions.MissingError"
    http_status = 404


class InvalidValue(StandinError, ValueError):
    """Odoo raises a plain ``ValueError`` for unknown fields and malformed domains."""

    odoo_name = "builtins.ValueError"


class InvalidArguments(StandinError, TypeError):
    odoo_name = "builtins.TypeError"


class UnknownMethod(StandinError, AttributeError):
    odoo_name = "builtins.AttributeError"


class HttpError(StandinError):
    pass


class BadRequest(HttpError):
    odoo_name = "werkzeug.exceptions.BadRequest"
    http_status = 400


class Unauthorized(HttpError):
    odoo_name = "werkzeug.exceptions.Unauthorized"
    http_status = 401


class NotFound(HttpError):
    odoo_name = "werkzeug.exceptions.NotFound"
    http_status = 404


class UnprocessableEntity(HttpError):
    odoo_name = "werkzeug.exceptions.UnprocessableEntity"
    http_status = 422


class SerializationFailure(StandinError):
    """PostgreSQL refused to commit because a concurrent transaction changed the rows.

    Odoo retries these itself a few times and reports the last one when it gives up.
    """

    odoo_name = "psycopg2.errors.SerializationFailure"

    def __init__(self) -> None:
        super().__init__("could not serialize access due to concurrent update")


class TooManyRequests(HttpError):
    odoo_name = "werkzeug.exceptions.TooManyRequests"
    http_status = 429

    def __init__(self) -> None:
        super().__init__("Too Many Requests: rate limit exceeded")


_SERVER_FAILURE_NAMES = {
    500: "InternalServerError",
    501: "NotImplemented",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}


class ServiceFailure(HttpError):
    """A 5xx answer, named after the werkzeug exception for that status."""

    def __init__(self, status: int) -> None:
        name = _SERVER_FAILURE_NAMES.get(status, "InternalServerError")
        super().__init__(f"{status} {name}: the server cannot answer now")
        self.http_status = status
        self.odoo_name = f"werkzeug.exceptions.{name}"


def qualified_name(exc: BaseException) -> str:
    """The name Odoo puts in an error's ``name`` member for this exception."""
    if isinstance(exc, StandinError):
        return exc.odoo_name
    kind = type(exc)
    return f"{kind.__module__}.{kind.__qualname__}"


def status_of(exc: BaseException) -> int:
    return exc.http_status if isinstance(exc, StandinError) else 500


def serialize_error(exc: BaseException, context: Mapping[str, Any]) -> dict[str, Any]:
    """The error object both protocols carry: name, message, arguments, context, debug."""
    message = exc.message if isinstance(exc, StandinError) else str(exc)
    arguments: list[Any] = [message]
    if isinstance(exc, HttpError):
        arguments.append(exc.http_status)
    return {
        "name": qualified_name(exc),
        "message": message,
        "arguments": arguments,
        "context": dict(context),
        "debug": "".join(traceback.format_exception(exc)),
    }
