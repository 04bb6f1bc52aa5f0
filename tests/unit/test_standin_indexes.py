"""The stand-in's lookups use indexes, so it does not slow down as records pile up."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from odoo_standin.registry import build_registry
from odoo_standin.store import Store


@pytest.fixture
def database(tmp_path: Path) -> sqlite3.Connection:
    path = tmp_path / "standin.sqlite"
    Store(path, build_registry()).close()
    return sqlite3.connect(path)


def _plan(database: sqlite3.Connection, query: str, arguments: tuple) -> str:
    rows = database.execute(f"EXPLAIN QUERY PLAN {query}", arguments).fetchall()
    return " ".join(row[-1] for row in rows)


def test_the_external_id_check_searches_an_index(
    database: sqlite3.Connection,
) -> None:
    plan = _plan(
        database,
        'SELECT "id" FROM "ir_model_data" WHERE "module" = ? AND "name" = ? '
        'AND "id" != ?',
        ("saas_pipeline", "invoice_in_1", 0),
    )

    assert plan.startswith("SEARCH") and "INDEX" in plan, plan


def test_records_are_found_by_business_id_through_an_index(
    database: sqlite3.Connection,
) -> None:
    plan = _plan(
        database,
        'SELECT "id" FROM "account_move" WHERE "x_invoice_id" IN (?, ?)',
        ("in_1", "in_2"),
    )

    assert plan.startswith("SEARCH") and "INDEX" in plan, plan


def test_an_older_database_file_gets_the_indexes_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "older.sqlite"
    older = sqlite3.connect(path)
    older.execute(
        'CREATE TABLE "ir_model_data" ("id" INTEGER PRIMARY KEY AUTOINCREMENT, '
        '"module" TEXT, "name" TEXT)'
    )
    older.close()

    Store(path, build_registry()).close()

    indexes = {
        row[0]
        for row in sqlite3.connect(path).execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' "
            "AND tbl_name = 'ir_model_data'"
        )
    }
    assert "ir_model_data__module__name" in indexes
