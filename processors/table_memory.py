"""How much memory RocksDB holds for each processor table, as a metric.

The worker's resident memory is mostly its tables' RocksDB stores. ``table_store``
bounds the block cache and the memtables of each store; what it cannot bound are the
index and filter blocks of the files a store has open ("table readers"), which grow with
the state. Reading the three from RocksDB tells an operator which part a growing worker
spends its memory on, without attaching a profiler.

Faust keeps one RocksDB database per table partition in its store's ``_dbs`` mapping (not
public API); a table kept in memory (no rocksdict) reports nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from telemetry.metrics import observe_table_memory

logger = logging.getLogger(__name__)

TABLE_MEMORY_REPORT_SECONDS = 10.0

ROCKSDB_MEMORY_PROPERTIES = {
    "block_cache": "rocksdb.block-cache-usage",
    "memtables": "rocksdb.cur-size-all-mem-tables",
    "table_readers": "rocksdb.estimate-table-readers-mem",
}


def rocksdb_memory(databases: Mapping[int, Any]) -> dict[str, int]:
    """Bytes per kind summed over ``databases`` (one per partition of a table)."""
    totals = dict.fromkeys(ROCKSDB_MEMORY_PROPERTIES, 0)
    for database in list(databases.values()):
        for kind, name in ROCKSDB_MEMORY_PROPERTIES.items():
            value = database.property_int_value(name)
            if value is not None:
                totals[kind] += value
    return totals


def report_table_memory(tables: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """Observe the RocksDB memory of every table stored in RocksDB; return it."""
    reported = {}
    for name, table in tables.items():
        databases = getattr(table.data, "_dbs", None)
        if databases is None:
            continue
        reported[name] = rocksdb_memory(databases)
        for kind, size in reported[name].items():
            observe_table_memory(name, kind, size)
    return reported


def add_table_memory_reporter(app: Any) -> None:
    """Report the tables' RocksDB memory every ``TABLE_MEMORY_REPORT_SECONDS``."""

    @app.timer(interval=TABLE_MEMORY_REPORT_SECONDS, name="report-table-memory")
    async def report() -> None:
        # A metric must never take the worker down: a failed reading is skipped.
        try:
            report_table_memory(app.tables)
        except Exception as exc:  # noqa: BLE001
            logger.warning("table memory not observed this time: %s", exc)
