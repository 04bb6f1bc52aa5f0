"""The state directory of a local tool run (benchmarks, chaos): emptied at the start.

A run writes its corpus, broker storage, logs and report under one directory; leftovers
of an earlier run there (an old broker log, a stale report) would be read as this run's.
"""

from __future__ import annotations

import shutil
from pathlib import Path


def fresh_state_dir(path: Path) -> Path:
    """``path`` made absolute, emptied of an earlier run's files, and created."""
    state_dir = path.resolve()
    if state_dir.exists():
        shutil.rmtree(state_dir)
    state_dir.mkdir(parents=True)
    return state_dir
