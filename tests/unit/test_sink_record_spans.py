"""The sink's record spans: outcome per write action, dead letters, blocked workflows."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)

from sinks.consumer import DeadLetter, RecordSource
from sinks.odoo_writer import WriteAction, WriteOutcome
from sinks.record_tracing import OUTCOME_BY_ACTION, RecordTrace, finish_record_traces
from telemetry import metrics


@dataclass
class Opened:
    exporter: InMemorySpanExporter
    tracer: trace.Tracer


@pytest.fixture
def opened() -> Opened:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return Opened(exporter, provider.get_tracer("test"))


def _record(
    opened: Opened, record_id: str, account: str = "acct_test_poll"
) -> RecordTrace:
    return RecordTrace(
        opened.tracer.start_span("process enriched.accounts"),
        "enriched.accounts",
        {
            "workflow": "billing",
            "account.canonical_id": account,
            "source.object_id": record_id,
        },
    )


def test_every_write_action_maps_to_an_outcome() -> None:
    assert set(OUTCOME_BY_ACTION) == {action.value for action in WriteAction}


def test_outcomes_of_a_poll_and_records_left_for_later(opened: Opened) -> None:
    traces = [_record(opened, f"in_{n}") for n in range(4)]
    results = [
        WriteOutcome("account.move", "invoice_in_0", WriteAction.CREATED),
        WriteOutcome("account.move", "invoice_in_1", WriteAction.SKIPPED_NOT_OWNER),
        DeadLetter(
            RecordSource("enriched.accounts", 0, 2),
            "OdooValidationError",
            "refused value jane@example.org",
            1,
            "",
            "evt_2",
        ),
    ]

    finish_record_traces(traces, results, "mod")

    spans = {
        s.attributes.get("outcome"): s for s in opened.exporter.get_finished_spans()
    }
    assert set(spans) == {
        "written",
        "skipped_by_ownership",
        "dead_lettered",
        "retry_later",
    }
    assert spans["written"].attributes["odoo.external_id"] == "mod.invoice_in_0"
    assert spans["dead_lettered"].attributes["outcome.detail"] == "OdooValidationError"
    assert "jane@example.org" not in str(spans["dead_lettered"].attributes)


def test_a_dead_letter_blocks_its_workflow_until_the_record_is_written(
    opened: Opened,
) -> None:
    def blocked() -> int:
        return sum(
            o.value
            for o in metrics.blocked_workflows.observations(None)  # type: ignore[arg-type]
            if o.attributes["account"] == "acct_test_blocked"
        )

    dead_letter = DeadLetter(
        RecordSource("enriched.accounts", 0, 9), "OdooMissingRecord", "", 1, "", "e"
    )
    finish_record_traces(
        [_record(opened, "in_9", "acct_test_blocked")], [dead_letter], "mod"
    )
    assert blocked() == 1

    written = WriteOutcome("account.move", "invoice_in_9", WriteAction.UPDATED)
    finish_record_traces(
        [_record(opened, "in_9", "acct_test_blocked")], [written], "mod"
    )
    assert blocked() == 0
