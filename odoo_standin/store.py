"""SQLite storage: one table per model, one column per field, one transaction per call.

Odoo runs every RPC call in its own database transaction and rolls it back on error;
``Store.transaction`` gives the same guarantee here, so a batch ``create`` with one bad
record stores nothing. Calls are serialised by a lock: SQLite has one writer at a time
anyway, and the stand-in is not meant to measure concurrency.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from odoo_standin.domain import CASEFOLD_FUNCTION
from odoo_standin.registry import Field, Model

logger = logging.getLogger(__name__)

_COLUMN_TYPES = {
    "integer": "INTEGER",
    "boolean": "INTEGER",
    "many2one": "INTEGER",
    "float": "REAL",
}


def _casefold(text: object) -> object:
    return text.casefold() if isinstance(text, str) else text


# A list of record ids as one parameter: SQLite caps how many parameters a statement
# may have (32,766 by default), while Odoo calls take lists of any length.
ID_LIST = "SELECT value FROM json_each(?)"


def id_list(ids: Iterable[int]) -> str:
    """The parameter ``ID_LIST`` reads: the ids as a JSON array."""
    return json.dumps(list(ids))


def column_type(field: Field) -> str:
    return _COLUMN_TYPES.get(field.type, "TEXT")


def indexed_columns(model: Model) -> list[tuple[str, ...]]:
    """The columns to index: fields marked ``index``, every many2one (records are
    looked up by their parent), and the model's own composite indexes. Without them
    every search and every external-id check reads the whole table, and the stand-in
    slows down with every record it holds."""
    single = [
        (field.name,)
        for field in model.fields.values()
        if field.index or field.type == "many2one"
    ]
    return [*single, *model.indexes]


class Store:
    def __init__(self, path: Path, registry: Mapping[str, Model]) -> None:
        self._lock = threading.Lock()
        self._connection = sqlite3.connect(
            path, check_same_thread=False, isolation_level=None
        )
        self._connection.row_factory = sqlite3.Row
        self._connection.create_function(
            CASEFOLD_FUNCTION, 1, _casefold, deterministic=True
        )
        # LIKE must be case-sensitive for Odoo's "like"; "ilike" folds explicitly.
        self._connection.execute("PRAGMA case_sensitive_like = ON")
        self._connection.execute("PRAGMA journal_mode = WAL")
        self._create_tables(registry)

    def _create_tables(self, registry: Mapping[str, Model]) -> None:
        with self.transaction() as cursor:
            for model in registry.values():
                cursor.execute(
                    f'CREATE TABLE IF NOT EXISTS "{model.table}" '
                    '("id" INTEGER PRIMARY KEY AUTOINCREMENT)'
                )
                existing = {
                    row["name"]
                    for row in cursor.execute(f'PRAGMA table_info("{model.table}")')
                }
                # Columns are added one by one so a database file made by an older
                # stand-in keeps working after a field is added to the registry.
                for field in model.fields.values():
                    if field.name not in existing:
                        cursor.execute(
                            f'ALTER TABLE "{model.table}" '
                            f'ADD COLUMN "{field.name}" {column_type(field)}'
                        )
                for columns in indexed_columns(model):
                    index_name = "__".join((model.table, *columns))
                    column_list = ", ".join(f'"{column}"' for column in columns)
                    cursor.execute(
                        f'CREATE INDEX IF NOT EXISTS "{index_name}" '
                        f'ON "{model.table}" ({column_list})'
                    )
        logger.debug("tables ready for %d models", len(registry))

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Cursor]:
        """A cursor inside one transaction: committed on success, rolled back on error."""
        with self._lock:
            cursor = self._connection.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield cursor
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            else:
                cursor.execute("COMMIT")
            finally:
                cursor.close()

    def close(self) -> None:
        with self._lock:
            self._connection.close()
