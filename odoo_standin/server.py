"""The stand-in's HTTP application (Starlette behind the fault switch) and its runner."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from odoo_standin.auth import Credentials
from odoo_standin.faults import FaultInjector
from odoo_standin.json2 import Json2Endpoint
from odoo_standin.jsonrpc import SERVER_VERSION, SERVER_VERSION_INFO, JsonRpcEndpoint
from odoo_standin.orm import Orm
from odoo_standin.registry import build_registry
from odoo_standin.seed import seed_reference_data
from odoo_standin.store import Store

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StandinConfig:
    db_path: Path
    database: str = "pipeline"
    api_key: str = "standin-dev-key"
    login: str = "admin"
    password: str | None = None
    host: str = "127.0.0.1"
    port: int = 8069

    def __repr__(self) -> str:
        return (
            f"StandinConfig(db_path={str(self.db_path)!r}, database={self.database!r}, "
            f"login={self.login!r}, host={self.host!r}, port={self.port})"
        )


def build_app(config: StandinConfig) -> FaultInjector:
    """The application serving both protocols over the SQLite file of ``config``.

    The switchable faults (``faults.py``) wrap everything: they must see the server's
    own ``send`` to be able to drop a connection.
    """
    # 1. Storage and reference data.
    registry = build_registry()
    store = Store(config.db_path, registry)
    uid = seed_reference_data(store, config.login)

    # 2. The ORM and the two protocol endpoints over it.
    orm = Orm(registry, store)
    credentials = Credentials(
        database=config.database,
        login=config.login,
        api_key=config.api_key,
        password=config.password,
    )
    json2 = Json2Endpoint(orm, credentials)
    jsonrpc = JsonRpcEndpoint(orm, credentials, uid)

    # 3. The application; the store closes with it.
    routes = [
        Route("/web/version", _version, methods=["GET"]),
        *jsonrpc.routes(),
        *json2.routes(),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        store.close()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.orm = orm
    logger.info(
        "Odoo stand-in ready on database %r (file %s)", config.database, config.db_path
    )
    return FaultInjector(app)


async def _version(request: Request) -> Response:
    return JSONResponse(
        {"version_info": SERVER_VERSION_INFO, "version": SERVER_VERSION}
    )


def serve(config: StandinConfig) -> None:
    """Serve until interrupted."""
    app = build_app(config)
    uvicorn.run(app, host=config.host, port=config.port, log_level="info")
