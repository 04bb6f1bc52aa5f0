"""The load generator writes the sample's layout and an expected.json that agrees with
the very lines it wrote: rejections, duplicates and totals are checked against the
files themselves, independently of the pipeline's code."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from loadgen import GenerationParameters, generate_corpus
from loadgen.cli import app
from loadgen.exceptions import OutputNotWritable

EVENT_FILES = (
    "billing/stripe_events.jsonl",
    "product/segment_events.jsonl",
    "helpdesk/zendesk_webhooks.jsonl",
)
ALL_FILES = (
    "crm/companies.csv",
    "crm/contacts.csv",
    *EVENT_FILES,
    "helpdesk/users.jsonl",
    "helpdesk/organizations.jsonl",
)
ALL_REASONS = {
    "oversized_payload",
    "invalid_json",
    "null_byte",
    "missing_type",
    "unknown_event_type",
    "negative_amount",
    "unknown_currency",
    "non_numeric_record_id",
}
HANDLED_TYPES = {
    "billing/stripe_events.jsonl": {
        "customer.created",
        "customer.updated",
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
        "invoice.payment_failed",
        "charge.refunded",
    },
    "product/segment_events.jsonl": {"track", "identify", "group"},
    "helpdesk/zendesk_webhooks.jsonl": {
        "zen:event-type:ticket.created",
        "zen:event-type:ticket.status_changed",
        "zen:event-type:ticket.priority_changed",
        "zen:event-type:ticket.comment_added",
    },
}
ID_FIELD = {
    "billing/stripe_events.jsonl": "id",
    "product/segment_events.jsonl": "messageId",
    "helpdesk/zendesk_webhooks.jsonl": "id",
}
NOISY = {
    "duplicate_rate": 0.1,
    "disorder_rate": 0.2,
    "late_rate": 0.02,
    "bad_rate": 0.05,
    "bad_csv_rate": 0.2,
}


def _generate(out: Path, **overrides: Any) -> Path:
    settings: dict[str, Any] = {"accounts": 80, "seed": 7, **NOISY, **overrides}
    generate_corpus(GenerationParameters(**settings), out)
    return out


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _generate(tmp_path_factory.mktemp("loadgen") / "corpus")


@pytest.fixture(scope="module")
def expected(corpus: Path) -> dict[str, Any]:
    return json.loads((corpus / "expected.json").read_text(encoding="utf-8"))


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as stream:
        for number, line in enumerate(stream, start=1):
            yield number, line.rstrip(b"\r\n")


def _has_null(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_null(k) or _has_null(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_null(v) for v in value)
    return False


def _negative(event_file: str, event: dict[str, Any]) -> bool:
    if event_file.startswith("product/"):
        props = event.get("properties") or {}
        return any(
            isinstance(props.get(k), int) and props[k] < 0
            for k in ("calls", "seats_added")
        )
    obj = (event.get("data") or {}).get("object") or {}
    fields = ("amount_due", "amount_paid", "amount_remaining", "amount")
    fields += ("amount_captured", "amount_refunded")
    return any(isinstance(obj.get(k), int) and obj[k] < 0 for k in fields)


def _reason_of(event_file: str, line: bytes) -> str | None:
    """A small independent reading of the README's validation order."""
    if len(line) > 65536:
        return "oversized_payload"
    try:
        event = json.loads(line)
    except ValueError:
        return "invalid_json"
    if not isinstance(event, dict):
        return "invalid_json"
    if _has_null(event):
        return "null_byte"
    if not event.get("type"):
        return "missing_type"
    if event["type"] not in HANDLED_TYPES[event_file]:
        return "unknown_event_type"
    if _negative(event_file, event):
        return "negative_amount"
    currency = ((event.get("data") or {}).get("object") or {}).get("currency")
    if currency is not None and not re.fullmatch(r"(eur|gbp|usd)", currency):
        return "unknown_currency"
    return None


def test_same_seed_gives_byte_identical_corpus(tmp_path: Path) -> None:
    first = _generate(tmp_path / "a", accounts=15)
    second = _generate(tmp_path / "b", accounts=15)
    other = _generate(tmp_path / "c", accounts=15, seed=8)

    for name in (*ALL_FILES, "expected.json"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    assert (first / EVENT_FILES[0]).read_bytes() != (
        other / EVENT_FILES[0]
    ).read_bytes()


def test_every_rejection_reason_occurs(expected: dict[str, Any]) -> None:
    assert {r["reason"] for r in expected["rejected_lines"]} == ALL_REASONS


def test_event_lines_are_rejected_exactly_where_expected_says(
    corpus: Path, expected: dict[str, Any]
) -> None:
    listed = {(r["file"], r["line"]): r["reason"] for r in expected["rejected_lines"]}
    for event_file in EVENT_FILES:
        for number, line in _lines(corpus / event_file):
            assert _reason_of(event_file, line) == listed.get((event_file, number)), (
                f"{event_file}:{number}"
            )


@pytest.mark.parametrize(
    ("name", "reason"),
    [("crm/companies.csv", "non_numeric_record_id"), ("crm/contacts.csv", "null_byte")],
)
def test_csv_rows_are_rejected_exactly_where_expected_says(
    corpus: Path, expected: dict[str, Any], name: str, reason: str
) -> None:
    listed = {
        r["line"]: r["reason"] for r in expected["rejected_lines"] if r["file"] == name
    }
    rows = (corpus / name).read_bytes().split(b"\r\n")
    assert rows[-1] == b"" and b"\n" not in b"".join(rows)
    assert reason in listed.values()
    for number, row in enumerate(rows[1:-1], start=2):
        record_id = row.split(b",", 1)[0]
        found = None
        if not record_id.isdigit():
            found = "non_numeric_record_id"
        elif b"\x00" in row:
            found = "null_byte"
        assert found == listed.get(number), f"{name}:{number}"


def test_truncated_first_attempt_is_followed_by_its_intact_retry(
    corpus: Path, expected: dict[str, Any]
) -> None:
    duplicates = {(d["file"], d["line"]) for d in expected["duplicate_lines"]}
    truncated = [r for r in expected["rejected_lines"] if r["reason"] == "invalid_json"]
    assert truncated
    for rejected in truncated:
        lines = dict(_lines(corpus / rejected["file"]))
        broken = lines[rejected["line"]].decode("utf-8", "replace")
        field = ID_FIELD[rejected["file"]]
        event_id = re.search(rf'"{field}": "([^"]+)"', broken)
        assert event_id, broken[:200]
        retries = [
            number
            for number, line in lines.items()
            if number > rejected["line"]
            and _reason_of(rejected["file"], line) is None
            and json.loads(line)[field] == event_id.group(1)
        ]
        assert retries, f"no intact retry for {rejected}"
        assert (rejected["file"], retries[0]) not in duplicates


def test_duplicates_carry_the_event_id_of_an_earlier_accepted_line(
    corpus: Path, expected: dict[str, Any]
) -> None:
    rejected = {(r["file"], r["line"]) for r in expected["rejected_lines"]}
    assert expected["duplicate_lines"]
    files = {name: dict(_lines(corpus / name)) for name in EVENT_FILES}
    for duplicate in expected["duplicate_lines"]:
        name, field = duplicate["file"], ID_FIELD[duplicate["file"]]
        first = json.loads(files[name][duplicate["first_line"]])
        again = json.loads(files[name][duplicate["line"]])
        assert duplicate["first_line"] < duplicate["line"]
        assert (name, duplicate["first_line"]) not in rejected
        assert first[field] == again[field] == duplicate["event_id"]


def test_no_unlisted_line_repeats_an_accepted_event_id(
    corpus: Path, expected: dict[str, Any]
) -> None:
    listed = {(d["file"], d["line"]) for d in expected["duplicate_lines"]}
    rejected = {(r["file"], r["line"]) for r in expected["rejected_lines"]}
    for name in EVENT_FILES:
        seen: set[str] = set()
        for number, line in _lines(corpus / name):
            if (name, number) in rejected:
                continue
            event_id = json.loads(line)[ID_FIELD[name]]
            assert (event_id in seen) == ((name, number) in listed), f"{name}:{number}"
            seen.add(event_id)


def test_totals_match_the_files(corpus: Path, expected: dict[str, Any]) -> None:
    totals = expected["totals"]
    for name in ALL_FILES:
        with (corpus / name).open("rb") as stream:
            assert totals["input_lines"][name] == sum(1 for _ in stream), name
    accounts = expected["accounts"]
    assert totals["rejected_lines"] == len(expected["rejected_lines"])
    assert totals["duplicate_lines"] == len(expected["duplicate_lines"])
    assert totals["accounts"] == len(accounts)
    assert totals["accounts_linked_to_crm"] == sum(a["linked_to_crm"] for a in accounts)
    assert totals["invoices"] == sum(len(a["invoices"]) for a in accounts)
    assert totals["usage_quantity"] == sum(
        u["quantity"] for a in accounts for u in a["usage"]
    )


def _merge(left: Any, right: Any) -> Any:
    if isinstance(left, dict) and isinstance(right, dict):
        keys = list(left) + [key for key in right if key not in left]
        return {key: _merge(left.get(key), right.get(key)) for key in keys}
    if isinstance(left, list) and isinstance(right, list):
        return (
            [_merge(left[0] if left else None, right[0] if right else None)]
            if (left or right)
            else []
        )
    return left if left is not None else right


def _shape(value: Any) -> Any:
    """Keys of nested objects; a list becomes the merged shape of all its items."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        shape: Any = None
        for item in value:
            if isinstance(item, dict | list):
                shape = _merge(shape, _shape(item))
        return [shape] if shape is not None else []
    return None


def test_expected_json_has_the_samples_structure(
    expected: dict[str, Any], corpus_dir: Path
) -> None:
    sample = json.loads((corpus_dir / "expected.json").read_text(encoding="utf-8"))

    assert expected.keys() == sample.keys()
    assert expected["totals"].keys() == sample["totals"].keys()
    assert _shape(expected["accounts"]) == _shape(sample["accounts"])
    assert _shape(expected["rejected_lines"]) == _shape(sample["rejected_lines"])
    assert _shape(expected["duplicate_lines"]) == _shape(sample["duplicate_lines"])
    assert set(expected["totals"]["input_lines"]) == set(
        sample["totals"]["input_lines"]
    )


def test_oracle_states_agree_with_the_readme_rules(expected: dict[str, Any]) -> None:
    unlinked = [a for a in expected["accounts"] if not a["linked_to_crm"]]
    assert unlinked and all(a["flags"] == ["no_crm_match"] for a in unlinked)
    for account in expected["accounts"]:
        for invoice in account["invoices"]:
            refunded, paid = invoice["amount_refunded"], invoice["amount_paid"]
            if invoice["invoice_status"] != "paid":
                assert invoice["payment_status"] == "not_paid"
            elif refunded == 0:
                assert invoice["payment_status"] == "paid"
            else:
                wanted = "refunded" if refunded >= paid else "partially_refunded"
                assert invoice["payment_status"] == wanted
        for email in account["contact_emails"] + account["billing_emails"]:
            assert email == email.strip().lower()
        for ticket in account["tickets"]:
            assert ticket["status"] == ticket["status"].lower()


def test_adapters_reject_exactly_the_listed_lines(
    corpus: Path, expected: dict[str, Any]
) -> None:
    from producers.corpus import read_corpus
    from producers.outcomes import RejectedLine

    rejected = sorted(
        (outcome.source_name, outcome.record["position"], outcome.reason)
        for outcome in read_corpus(corpus)
        if isinstance(outcome, RejectedLine)
    )
    wanted = sorted(
        (r["file"], r["line"], r["reason"]) for r in expected["rejected_lines"]
    )
    assert rejected == wanted


def test_a_size_is_required() -> None:
    with pytest.raises(ValidationError):
        GenerationParameters(seed=3)


def test_a_non_empty_output_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("x")
    with pytest.raises(OutputNotWritable):
        generate_corpus(GenerationParameters(accounts=1), tmp_path)


def test_event_target_is_reached_with_few_accounts_to_spare(tmp_path: Path) -> None:
    generate_corpus(GenerationParameters(events=3000, seed=2), tmp_path / "out")
    totals = json.loads((tmp_path / "out/expected.json").read_text())["totals"]
    event_lines = sum(totals["input_lines"][name] for name in EVENT_FILES)
    assert 3000 <= event_lines < 3600


def test_cli_generates_a_corpus(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["generate", "--out", str(tmp_path / "cli"), "--accounts", "3"]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "cli/expected.json").is_file()
    assert "3 accounts" in result.output
