"""The worker's memory report tells Python objects apart from everything else."""

from __future__ import annotations

from processors.memory_view import memory_report


class _KeptRecord:
    """Stands for state a leaking worker would keep per event."""


def test_kept_objects_show_in_the_count_and_by_type() -> None:
    before = memory_report({})
    kept = [_KeptRecord() for _ in range(50_000)]

    after = memory_report({})

    # The heap moves a little by itself (the first report's own objects are gone).
    assert after["python_objects"] - before["python_objects"] > 0.9 * len(kept)
    assert after["largest_types"]["_KeptRecord"] == len(kept)
    assert "_KeptRecord" not in before["largest_types"]


def test_the_report_names_resident_memory_and_the_heap() -> None:
    report = memory_report({})

    assert report["resident_bytes"] > report["python_allocated_blocks"] > 0
    assert report["tables"] == {}
