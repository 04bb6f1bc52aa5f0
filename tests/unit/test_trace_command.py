"""``pipeline trace`` on spans written by a test: hops in order, outcomes, batch links."""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry.propagate import inject
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind
from typer.testing import CliRunner

from pipeline.cli import app
from telemetry.record_spans import batch_span, link_records_to_batch, record_parent
from telemetry.span_attributes import (
    CANONICAL_ACCOUNT_ID,
    ODOO_EXTERNAL_ID,
    ODOO_METHOD,
    ODOO_MODEL,
    OUTCOME,
    business_event_attributes,
    enriched_record_attributes,
    kafka_process_attributes,
    kafka_send_attributes,
)
from telemetry.trace_view import TraceIndex, final_outcomes, load_spans
from telemetry.tracing import build_tracer_provider

INVOICE_ID = "in_test_unpaid"
ACCOUNT_ID = "acct_test_1"


def _event(event_id: str, invoice_id: str, event_type: str) -> dict:
    return {
        "event_id": event_id,
        "event_type": event_type,
        "source_system": "billing",
        "source_object_id": invoice_id,
        "payload": (
            "pipeline.Invoice",
            {"invoice_id": invoice_id, "number": f"T-{invoice_id}"},
        ),
    }


def _publish(provider: TracerProvider, event: dict) -> list[tuple[str, bytes]]:
    tracer = provider.get_tracer("producers")
    attributes = {
        **kafka_send_attributes("source.billing", "cus_1"),
        **business_event_attributes(event),
    }
    with tracer.start_as_current_span(
        "source.billing publish", kind=SpanKind.PRODUCER, attributes=attributes
    ):
        carrier: dict[str, str] = {}
        inject(carrier)
    return [(name, value.encode()) for name, value in carrier.items()]


def _hop(
    provider: TracerProvider,
    name: str,
    headers: list[tuple[str, bytes]],
    attributes: dict,
) -> list[tuple[str, bytes]]:
    tracer = provider.get_tracer("hops")
    with tracer.start_as_current_span(
        name, context=record_parent(headers), attributes=attributes
    ):
        carrier: dict[str, str] = {}
        inject(carrier)
    return [(key, value.encode()) for key, value in carrier.items()]


def _write_spans(path: Path) -> None:
    provider = build_tracer_provider("test", path)
    tracer = provider.get_tracer("sinks")
    failed = _event("evt_failed", INVOICE_ID, "invoice.payment_failed")
    other = _event("evt_other", "in_other", "invoice.paid")

    # The unpaid invoice's event through every hop, written in a batch with another.
    sink_spans = []
    for event in (failed, other):
        headers = _publish(provider, event)
        consumed = kafka_process_attributes("source.billing", 0, 5, b"cus_1", "app")
        headers = _hop(
            provider,
            "deduplicate",
            headers,
            {**consumed, **business_event_attributes(event), OUTCOME: "passed"},
        )
        headers = _hop(
            provider,
            "correlate",
            headers,
            {CANONICAL_ACCOUNT_ID: ACCOUNT_ID, OUTCOME: "enriched"},
        )
        record = {
            **event,
            "record_kind": "invoice",
            "record_id": event["source_object_id"],
            "canonical_account_id": ACCOUNT_ID,
        }
        span = tracer.start_span(
            "process enriched.accounts",
            context=record_parent(headers),
            attributes={
                **enriched_record_attributes(record),
                OUTCOME: "written",
                ODOO_MODEL: "account.move",
                ODOO_EXTERNAL_ID: f"mod.invoice_{event['source_object_id']}",
            },
        )
        sink_spans.append(span)
    with (
        batch_span(
            tracer, "sink batch write", [s.get_span_context() for s in sink_spans]
        ),
        tracer.start_as_current_span(
            "odoo account.move.write",
            attributes={ODOO_MODEL: "account.move", ODOO_METHOD: "write"},
        ),
    ):
        pass
    for span in sink_spans:
        span.end()

    # A redelivery of the same event, dropped as a duplicate.
    headers = _publish(provider, failed)
    _hop(
        provider,
        "deduplicate",
        headers,
        {**business_event_attributes(failed), OUTCOME: "duplicate"},
    )

    # An unrelated event that must not be printed.
    unrelated = _event("evt_unrelated", "in_unrelated", "invoice.created")
    _publish(provider, unrelated)
    provider.shutdown()


@pytest.fixture
def spans_file(tmp_path: Path) -> Path:
    path = tmp_path / "spans.jsonl"
    _write_spans(path)
    return path


def _trace(spans_file: Path, query: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        app, ["trace", query, "--spans-file", str(spans_file)], catch_exceptions=False
    )
    return result.exit_code, result.output


def test_an_invoice_id_prints_every_delivery_hop_by_hop(spans_file: Path) -> None:
    code, output = _trace(spans_file, INVOICE_ID)

    assert code == 0
    assert output.startswith("2 trace(s) match")
    written, duplicate = output.split("\ntrace ")[1:]
    hops = [
        "source.billing publish",
        "deduplicate",
        "correlate",
        "process enriched.accounts",
        "sink batch write",
        "odoo account.move.write",
    ]
    positions = [written.index(hop) for hop in hops]
    assert positions == sorted(positions)
    assert "=> outcome: written" in written
    assert "deduplicate [test]" in duplicate
    assert "=> outcome: duplicate" in duplicate
    assert "process enriched.accounts" not in duplicate
    assert "evt_unrelated" not in output


@pytest.mark.parametrize(
    "query",
    [
        "evt_failed",
        f"T-{INVOICE_ID}",
        f"invoice_{INVOICE_ID}",
        f"mod.invoice_{INVOICE_ID}",
    ],
)
def test_event_number_and_external_id_find_the_same_event(
    spans_file: Path, query: str
) -> None:
    code, output = _trace(spans_file, query)

    assert code == 0
    assert "evt_failed" in output
    assert "evt_unrelated" not in output


def test_an_account_id_finds_every_event_of_the_account(spans_file: Path) -> None:
    code, output = _trace(spans_file, ACCOUNT_ID)

    assert code == 0
    assert output.startswith("2 trace(s) match")
    assert "evt_failed" in output and "evt_other" in output


def test_an_unknown_id_exits_with_status_1(spans_file: Path) -> None:
    code, _output = _trace(spans_file, "in_nowhere")
    assert code == 1


def test_each_trace_has_one_root_and_the_batch_links_to_both_records(
    spans_file: Path,
) -> None:
    index = TraceIndex.of(load_spans(spans_file))
    batch = next(s for s in index.spans.values() if s.name == "sink batch write")
    linked = [index.spans[span_id] for span_id in batch.links]

    assert sorted(s.attributes["event.id"] for s in linked) == [
        "evt_failed",
        "evt_other",
    ]
    for trace_id in {s.trace_id for s in linked}:
        assert len(index.roots(trace_id)) == 1
        assert final_outcomes(index, trace_id) == ["written"]


def test_every_record_of_a_large_batch_reaches_the_batch_calls(tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    provider = build_tracer_provider("test", path)
    tracer = provider.get_tracer("sinks")
    records = [tracer.start_span(f"record {n}") for n in range(300)]
    with batch_span(
        tracer, "sink batch write", [r.get_span_context() for r in records]
    ) as batch:
        link_records_to_batch(records, batch)
        with tracer.start_as_current_span(
            "odoo res.partner.write",
            attributes={ODOO_MODEL: "res.partner", ODOO_METHOD: "write"},
        ):
            pass
    for record in records:
        record.end()
    provider.shutdown()

    index = TraceIndex.of(load_spans(path))
    for span in index.spans.values():
        if span.name.startswith("record "):
            below = [s.name for s in index.descendants(span)]
            assert below == ["sink batch write", "odoo res.partner.write"], span.name


def test_a_missing_spans_file_is_named_with_where_the_demo_writes_its_spans(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "spans.jsonl"

    result = CliRunner().invoke(app, ["trace", "in_1", "--spans-file", str(missing)])

    assert result.exit_code == 1
    assert f"no spans file at {missing}" in result.output
    assert ".state/demo/spans.jsonl" in result.output
