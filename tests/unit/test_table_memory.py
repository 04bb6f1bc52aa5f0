"""The RocksDB memory of the processor tables, read from real RocksDB databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from rocksdict import Rdict

from processors.table_memory import (
    ROCKSDB_MEMORY_PROPERTIES,
    report_table_memory,
    rocksdb_memory,
)


@pytest.fixture
def databases(tmp_path: Path) -> Iterator[dict[int, Rdict]]:
    opened = {partition: Rdict(str(tmp_path / f"p{partition}")) for partition in (0, 1)}
    for partition, database in opened.items():
        for n in range(2_000):
            database[f"key-{partition}-{n}"] = "x" * 100
    yield opened
    for database in opened.values():
        database.close()


def test_every_kind_is_summed_over_the_partitions(databases: dict[int, Rdict]) -> None:
    one = rocksdb_memory({0: databases[0]})
    both = rocksdb_memory(databases)

    assert set(both) == set(ROCKSDB_MEMORY_PROPERTIES)
    # Nothing was flushed yet, so the writes sit in the memtables of each database.
    assert one["memtables"] > 2_000 * 100
    assert both["memtables"] > one["memtables"]


def test_tables_without_rocksdb_are_left_out(databases: dict[int, Rdict]) -> None:
    tables = {
        "dedup-ledger": SimpleNamespace(data=SimpleNamespace(_dbs=databases)),
        "kept-in-memory": SimpleNamespace(data={}),
    }

    reported = report_table_memory(tables)

    assert list(reported) == ["dedup-ledger"]
    assert reported["dedup-ledger"]["memtables"] > 0
