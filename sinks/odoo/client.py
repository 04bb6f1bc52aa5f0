"""The Odoo client interface the sink writes through, and its error hierarchy.

Two implementations speak the two protocols (``json2.py`` for Odoo 19+, ``jsonrpc.py``
for Odoo 18 and earlier); ``sinks.odoo.make_client`` picks one from the settings. Both
are synchronous, keep one ``httpx.Client``, never retry (the sink decides that) and never
put the API key in a log line, an exception or a repr.

Errors::

    OdooError                      any failed call; carries name, message, model, method
    ├── OdooTransientError         worth retrying: timeouts, connection failures, HTTP
    │   │                          429 (``retry_after`` seconds), 502/503/504, database
    │   │                          serialization failures and concurrent updates
    │   └── OdooServerError        an unexpected server-side exception (HTTP 500 or a
    │                              JSON-RPC error of a class not listed below)
    └── OdooPermanentError         retrying cannot help: bad request, unknown model or
        │                          method, malformed response
        ├── OdooValidationError    the values were refused (ValidationError, UserError,
        │                          ValueError, TypeError, HTTP 422)
        ├── OdooAccessDenied       wrong key, login or database; access rights (HTTP
        │                          401/403)
        └── OdooMissingRecord      the record does not exist or was deleted

``name`` is the fully qualified class name of the exception Odoo reported (for example
``odoo.exceptions.ValidationError``), or the transport failure's class for errors that
never reached Odoo.
"""

from __future__ import annotations

import abc
import datetime as dt
import email.utils
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import httpx


class OdooError(Exception):
    def __init__(
        self,
        message: str,
        *,
        name: str = "",
        model: str = "",
        method: str = "",
        status: int | None = None,
    ) -> None:
        self.name = name
        self.message = message
        self.model = model
        self.method = method
        self.status = status
        where = f"{model}.{method}" if model else method or "odoo"
        reason = f"{name}: {message}" if name else message
        super().__init__(f"{where} failed: {reason}")


class OdooTransientError(OdooError):
    def __init__(
        self, message: str, *, retry_after: float | None = None, **details: Any
    ) -> None:
        super().__init__(message, **details)
        self.retry_after = retry_after


class OdooServerError(OdooTransientError):
    pass


class OdooPermanentError(OdooError):
    pass


class OdooValidationError(OdooPermanentError):
    pass


class OdooAccessDenied(OdooPermanentError):
    pass


class OdooMissingRecord(OdooPermanentError):
    pass


# Exception names Odoo reports, by the class of error they become here. A name found in
# none of these falls back on the HTTP status (JSON-2) or on OdooServerError.
_TRANSIENT_NAMES = frozenset(
    {
        "psycopg2.errors.SerializationFailure",
        "psycopg2.errors.DeadlockDetected",
        "psycopg2.errors.LockNotAvailable",
        "psycopg2.extensions.TransactionRollbackError",
        "psycopg2.OperationalError",
        "odoo.exceptions.ConcurrencyError",
    }
)
_TRANSIENT_MESSAGES = (
    "could not serialize access",
    "concurrent update",
    "deadlock detected",
)
_ERROR_CLASS_BY_NAME: dict[str, type[OdooError]] = {
    "odoo.exceptions.ValidationError": OdooValidationError,
    "odoo.exceptions.UserError": OdooValidationError,
    "odoo.exceptions.RedirectWarning": OdooValidationError,
    "builtins.ValueError": OdooValidationError,
    "builtins.TypeError": OdooValidationError,
    "werkzeug.exceptions.UnprocessableEntity": OdooValidationError,
    "odoo.exceptions.AccessDenied": OdooAccessDenied,
    "odoo.exceptions.AccessError": OdooAccessDenied,
    "werkzeug.exceptions.Unauthorized": OdooAccessDenied,
    "werkzeug.exceptions.Forbidden": OdooAccessDenied,
    "odoo.http.SessionExpiredException": OdooAccessDenied,
    "odoo.exceptions.MissingError": OdooMissingRecord,
    "werkzeug.exceptions.NotFound": OdooPermanentError,
    "werkzeug.exceptions.BadRequest": OdooPermanentError,
    "werkzeug.exceptions.MethodNotAllowed": OdooPermanentError,
    "builtins.AttributeError": OdooPermanentError,
    "builtins.KeyError": OdooPermanentError,
}
_ERROR_CLASS_BY_STATUS: dict[int, type[OdooError]] = {
    400: OdooPermanentError,
    401: OdooAccessDenied,
    403: OdooAccessDenied,
    404: OdooPermanentError,
    405: OdooPermanentError,
    409: OdooTransientError,
    422: OdooValidationError,
    429: OdooTransientError,
    500: OdooServerError,
    502: OdooTransientError,
    503: OdooTransientError,
    504: OdooTransientError,
}


def error_class(name: str, message: str, status: int | None) -> type[OdooError]:
    """The error class for an exception Odoo reported by ``name`` (and HTTP status)."""
    if name in _TRANSIENT_NAMES or any(
        marker in message.lower() for marker in _TRANSIENT_MESSAGES
    ):
        return OdooTransientError
    if name in _ERROR_CLASS_BY_NAME:
        return _ERROR_CLASS_BY_NAME[name]
    if status is not None and status in _ERROR_CLASS_BY_STATUS:
        return _ERROR_CLASS_BY_STATUS[status]
    if status is not None and 400 <= status < 500:
        return OdooPermanentError
    return OdooServerError


def build_error(
    name: str,
    message: str,
    *,
    model: str,
    method: str,
    status: int | None = None,
    retry_after: float | None = None,
) -> OdooError:
    kind = error_class(name, message, status)
    details: dict[str, Any] = {
        "name": name,
        "model": model,
        "method": method,
        "status": status,
    }
    if issubclass(kind, OdooTransientError):
        return kind(message, retry_after=retry_after, **details)
    return kind(message, **details)


def parse_retry_after(
    value: str | None, *, now: dt.datetime | None = None
) -> float | None:
    """Seconds to wait from a Retry-After header (delay in seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    current = now or dt.datetime.now(dt.UTC)
    return max(0.0, (moment - current).total_seconds())


@dataclass(frozen=True)
class MethodCall:
    """One ORM call, described so either protocol can send it.

    ``params`` are the method's named parameters. JSON-2 sends them all by name;
    JSON-RPC sends the ones listed in ``positional`` by position (their names changed
    across Odoo versions, e.g. ``args`` became ``domain`` in 17.0) and the rest by name.
    """

    model: str
    method: str
    ids: list[int] | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    positional: tuple[str, ...] = ()


class OdooClient(abc.ABC):
    """Synchronous access to the Odoo ORM of one database."""

    @abc.abstractmethod
    def execute(self, call: MethodCall) -> Any:
        """Send one call and return its decoded result; raises an ``OdooError``."""

    @abc.abstractmethod
    def call(self, model: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call any public model method with the protocol's own argument passing."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the HTTP connections."""

    def search(
        self,
        model: str,
        domain: Sequence[Any],
        *,
        limit: int | None = None,
        offset: int = 0,
        order: str | None = None,
    ) -> list[int]:
        params = _paging(limit, offset, order)
        result = self.execute(
            MethodCall(
                model, "search", None, {"domain": list(domain), **params}, ("domain",)
            )
        )
        return list(result)

    def search_read(
        self,
        model: str,
        domain: Sequence[Any],
        fields: Sequence[str],
        *,
        limit: int | None = None,
        offset: int = 0,
        order: str | None = None,
    ) -> list[dict[str, Any]]:
        params = {"domain": list(domain), "fields": list(fields)}
        params |= _paging(limit, offset, order)
        return list(self.execute(MethodCall(model, "search_read", None, params)))

    def read(
        self, model: str, ids: Sequence[int], fields: Sequence[str]
    ) -> list[dict[str, Any]]:
        call = MethodCall(
            model, "read", list(ids), {"fields": list(fields)}, ("fields",)
        )
        return list(self.execute(call))

    def search_count(self, model: str, domain: Sequence[Any]) -> int:
        call = MethodCall(
            model, "search_count", None, {"domain": list(domain)}, ("domain",)
        )
        return int(self.execute(call))

    def create(self, model: str, vals_list: Sequence[Mapping[str, Any]]) -> list[int]:
        call = MethodCall(
            model,
            "create",
            None,
            {"vals_list": [dict(v) for v in vals_list]},
            ("vals_list",),
        )
        result = self.execute(call)
        # JSON-RPC answers a single id when given a single dict; we always send a list,
        # but a server may still answer a bare id for a one-element list.
        return [result] if isinstance(result, int) else list(result)

    def write(self, model: str, ids: Sequence[int], vals: Mapping[str, Any]) -> bool:
        call = MethodCall(model, "write", list(ids), {"vals": dict(vals)}, ("vals",))
        return bool(self.execute(call))

    def unlink(self, model: str, ids: Sequence[int]) -> bool:
        return bool(self.execute(MethodCall(model, "unlink", list(ids))))

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _paging(limit: int | None, offset: int, order: str | None) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if limit is not None:
        params["limit"] = limit
    if offset:
        params["offset"] = offset
    if order:
        params["order"] = order
    return params


def post_json(
    http: httpx.Client, url: str, path: str, body: object, model: str, method: str
) -> httpx.Response:
    """POST ``body`` to ``path``; a timeout or a connection failure is transient."""
    try:
        return http.post(path, json=body)
    except httpx.TimeoutException as exc:
        raise OdooTransientError(
            f"no answer within the timeout: {exc}",
            name=type(exc).__name__,
            model=model,
            method=method,
        ) from exc
    except httpx.TransportError as exc:
        raise OdooTransientError(
            f"cannot reach {url}: {exc}",
            name=type(exc).__name__,
            model=model,
            method=method,
        ) from exc
