"""Command line: ``python -m odoo_standin --db PATH --port 8069``."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from odoo_standin.server import StandinConfig, serve


def parse_arguments(argv: list[str] | None = None) -> StandinConfig:
    parser = argparse.ArgumentParser(
        prog="python -m odoo_standin",
        description="Odoo-protocol development stand-in (not Odoo) over a SQLite file.",
    )
    parser.add_argument("--db", type=Path, required=True, help="SQLite file to use")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8069)
    parser.add_argument("--database", default="pipeline", help="Odoo database name")
    parser.add_argument(
        "--api-key",
        default=os.environ.get("ODOO_STANDIN_API_KEY", "standin-dev-key"),
        help="API key accepted as bearer token and JSON-RPC password "
        "(default: $ODOO_STANDIN_API_KEY or the development key)",
    )
    parser.add_argument("--login", default="admin")
    parser.add_argument(
        "--password",
        default=os.environ.get("ODOO_STANDIN_PASSWORD"),
        help="optional password also accepted by JSON-RPC",
    )
    options = parser.parse_args(argv)
    return StandinConfig(
        db_path=options.db,
        database=options.database,
        api_key=options.api_key,
        login=options.login,
        password=options.password,
        host=options.host,
        port=options.port,
    )


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    serve(parse_arguments(argv))


if __name__ == "__main__":
    main()
