"""The offline corpus test's fold-and-compare helpers, for the tiers that reuse them.

``tests/unit/test_corpus_offline.py`` holds the oracle (``run_pipeline``,
``fold_like_the_sink``, ``assert_matches_expected`` and what they need) beside the
tests that check it on the corpus. Test directories are not packages, so other tests
load that module by path, through here.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ORACLE_PATH = Path(__file__).resolve().parents[1] / "unit" / "test_corpus_offline.py"


def corpus_oracle() -> ModuleType:
    """A fresh copy of the offline corpus test module, under its own name."""
    spec = importlib.util.spec_from_file_location("corpus_oracle", ORACLE_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
