"""``/memory/`` on the worker's web server: where its resident memory goes.

A worker whose resident memory rises may be keeping more Python objects (state that
grows with events: a leak), or the C side may be holding more (RocksDB caches filling
up to their bounds, memory the allocator keeps after a burst). The view tells the two
apart: the process's resident memory next to the Python heap (allocated blocks and
live objects, with the most common types) and each table's RocksDB memory.

Counting objects walks the whole heap (tens of milliseconds on a worker), so the view is
for looking now and then, not for scraping every second.
"""

from __future__ import annotations

import collections
import gc
import os
import sys
from typing import Any

import faust

from processors.table_memory import report_table_memory
from telemetry.process_memory import resident_kib

MEMORY_PATH = "/memory/"
LARGEST_TYPES = 10


def memory_report(tables: Any) -> dict[str, Any]:
    """The process's resident memory, its Python heap, and its tables' RocksDB memory."""
    objects = gc.get_objects()
    by_type = collections.Counter(type(item).__name__ for item in objects)
    return {
        "resident_bytes": _resident_bytes(),
        "python_allocated_blocks": sys.getallocatedblocks(),
        "python_objects": len(objects),
        "largest_types": dict(by_type.most_common(LARGEST_TYPES)),
        "tables": report_table_memory(tables),
    }


def add_memory_view(app: faust.App) -> None:
    @app.page(MEMORY_PATH, name="memory")
    async def memory(view: faust.web.View, request: faust.web.Request) -> Any:
        return view.json(memory_report(app.tables))


def _resident_bytes() -> int | None:
    kib = resident_kib(os.getpid())
    return None if kib is None else kib * 1024
