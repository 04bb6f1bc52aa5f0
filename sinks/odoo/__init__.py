"""Clients for Odoo's two external APIs behind one interface (see ``client.py``)."""

from __future__ import annotations

from pipeline.settings import OdooSettings
from sinks.odoo.client import (
    MethodCall,
    OdooAccessDenied,
    OdooClient,
    OdooError,
    OdooMissingRecord,
    OdooPermanentError,
    OdooServerError,
    OdooTransientError,
    OdooValidationError,
)
from sinks.odoo.json2 import Json2Client
from sinks.odoo.jsonrpc import JsonRpcClient


def make_client(settings: OdooSettings) -> OdooClient:
    """The client for ``settings.protocol``: json2 (Odoo 19+) or jsonrpc (<= 18)."""
    if settings.protocol == "json2":
        return Json2Client(
            settings.url,
            settings.database,
            settings.api_key,
            timeout_seconds=settings.timeout_seconds,
        )
    return JsonRpcClient(
        settings.url,
        settings.database,
        settings.login,
        settings.api_key,
        timeout_seconds=settings.timeout_seconds,
    )


__all__ = [
    "Json2Client",
    "JsonRpcClient",
    "MethodCall",
    "OdooAccessDenied",
    "OdooClient",
    "OdooError",
    "OdooMissingRecord",
    "OdooPermanentError",
    "OdooServerError",
    "OdooTransientError",
    "OdooValidationError",
    "make_client",
]
