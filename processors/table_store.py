"""Where the processors' tables keep their local state, and how much memory it may use.

Tables live in RocksDB (through rocksdict) when it is installed: a restarted worker then
reopens its local state instead of replaying whole changelogs. Faust's own RocksDB
defaults are sized for big servers (a 2 GiB block cache and three 64 MiB memtables per
store, and the worker opens one store per table partition), so a worker's memory would
keep growing with its state for a long time. Each store here gets a block cache of
``table_cache_mb`` and at most two memtables of ``table_write_buffer_mb``; the worker's
RocksDB memory is then at most ``stores x (cache + 2 x write buffer)`` plus the index
and filter blocks of the files it has open.
"""

from __future__ import annotations

import logging
from typing import Any

from pipeline.settings import ProcessorSettings

logger = logging.getLogger(__name__)

MIB = 1024 * 1024
MEMTABLES_PER_STORE = 2


def store_url() -> str:
    """``rocksdb://`` when rocksdict is installed, else in memory (rebuilt from the
    changelogs at every start)."""
    try:
        import rocksdict  # noqa: F401
    except ImportError:
        logger.warning("rocksdict is not installed; table state is kept in memory")
        return "memory://"
    return "rocksdb://"


def store_options(processors: ProcessorSettings) -> dict[str, Any]:
    """The RocksDB options of one table's stores (a new dict each call: Faust's store
    takes keys out of the dict it is given)."""
    return {
        "block_cache_size": processors.table_cache_mb * MIB,
        "write_buffer_size": processors.table_write_buffer_mb * MIB,
        "max_write_buffer_number": MEMTABLES_PER_STORE,
    }
