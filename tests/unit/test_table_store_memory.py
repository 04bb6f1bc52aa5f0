"""Every table's local RocksDB store is opened with the memory bounds of the settings,
not Faust's server-sized defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.settings import Settings
from processors.app import build_app
from processors.table_store import MIB, store_url

pytest.importorskip("rocksdict")


def test_each_table_store_gets_the_configured_cache_and_memtables(
    tmp_path: Path,
) -> None:
    settings = Settings(
        kafka={"bootstrap_servers": "127.0.0.1:1"},
        processors={
            "state_dir": tmp_path / "processors",
            "table_cache_mb": 5,
            "table_write_buffer_mb": 3,
        },
    )
    app = build_app(settings)
    assert store_url() == "rocksdb://"

    tables = dict(app.tables.items())
    assert set(tables) == {"dedup-ledger", "correlate-state"}
    for name, table in tables.items():
        options = table.data.rocksdb_options
        assert options.block_cache_size == 5 * MIB, name
        assert options.write_buffer_size == 3 * MIB, name
        assert options.max_write_buffer_number == 2, name


def test_memory_bounds_must_be_positive() -> None:
    with pytest.raises(ValueError, match="table_cache_mb"):
        Settings(processors={"table_cache_mb": 0})
