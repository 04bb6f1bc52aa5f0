"""The end-state comparison reports each difference precisely and nothing else."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from pipeline.end_state_check import compare_end_state


def _expected(corpus_dir: Path) -> dict:
    return json.loads((corpus_dir / "expected.json").read_text())


def test_identical_state_has_no_differences(corpus_dir: Path) -> None:
    expected = _expected(corpus_dir)
    actual = copy.deepcopy(expected["accounts"])
    for account in actual:
        account.pop("account_ref", None)
        account["contacts"].reverse()
    assert (
        compare_end_state(
            expected, actual, expected["rejected_lines"], expected["duplicate_lines"]
        )
        == []
    )


def test_a_changed_field_is_reported_with_its_record(corpus_dir: Path) -> None:
    expected = _expected(corpus_dir)
    actual = copy.deepcopy(expected["accounts"])
    account = next(a for a in actual if a["invoices"])
    invoice = account["invoices"][0]
    invoice["payment_status"] = "changed"

    differences = compare_end_state(
        expected, actual, expected["rejected_lines"], expected["duplicate_lines"]
    )

    assert len(differences) == 1
    assert f"invoices[{invoice['invoice_id']}].payment_status" in differences[0].where
    assert differences[0].actual == "changed"


def test_missing_account_extra_account_and_lost_rejection_are_reported(
    corpus_dir: Path,
) -> None:
    expected = _expected(corpus_dir)
    actual = copy.deepcopy(expected["accounts"])
    dropped = actual.pop(0)
    actual.append({"display_name": "Stray", "crm_company_ids": ["999"]})
    rejected = expected["rejected_lines"][1:]

    differences = compare_end_state(
        expected, actual, rejected, expected["duplicate_lines"]
    )
    text = "\n".join(map(str, differences))

    assert "no account" in text and "an extra account" in text
    assert str(expected["rejected_lines"][0]["line"]) in text
    assert len(differences) == 3
    assert dropped["display_name"] not in text or "no account" in text


def test_a_corpus_file_with_other_line_counts_than_declared_is_reported(
    corpus_dir: Path, tmp_path: Path
) -> None:
    from pipeline.end_state_check import compare_input_lines

    expected = _expected(corpus_dir)
    declared = expected["totals"]["input_lines"]
    for relative in declared:
        target = tmp_path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((corpus_dir / relative).read_bytes())
    assert compare_input_lines(tmp_path, expected) == []

    shortened = sorted(declared)[0]
    lines = (tmp_path / shortened).read_bytes().splitlines(keepends=True)
    (tmp_path / shortened).write_bytes(b"".join(lines[:-1]))

    differences = compare_input_lines(tmp_path, expected)
    assert [(d.where, d.expected, d.actual) for d in differences] == [
        (
            f"totals.input_lines[{shortened}]",
            declared[shortened],
            declared[shortened] - 1,
        )
    ]


def test_an_unreadable_expected_file_is_refused_before_anything_starts(
    tmp_path: Path,
) -> None:
    import pytest

    from pipeline.demo import CorpusError, load_expected

    assert load_expected(tmp_path) is None
    (tmp_path / "expected.json").write_text("{not json")
    with pytest.raises(CorpusError, match="not valid JSON"):
        load_expected(tmp_path)
