"""``pipeline deadletters list --topic ingest`` against the real broker."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from eventbus.topic_admin import ensure_topics
from pipeline.settings import Settings
from producers.business_event import Delivery
from producers.corpus import FILE_CHANNEL
from producers.intake import judge_json_line
from producers.outcomes import RejectedLine
from producers.publisher import EventPublisher
from producers.rejected_inputs import read_rejected_inputs
from producers.sources import WEBHOOK_SOURCES
from producers.webhook_signature import sign
from producers.webhooks import build_webhook_app
from sinks.cli import app

pytestmark = pytest.mark.integration

# Personal data inside refused inputs: none of it may reach the listing.
FILE_PAYLOAD = b'{"id": "evt_file_1", "type": "customer.created", "email": "ann@x.test"'
WEBHOOK_PAYLOAD = b'{"not": "an event", "phone": "+47 99 88 77 66"'


def _environment(settings: Settings) -> dict[str, str]:
    return {
        "PIPELINE_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
        "PIPELINE_KAFKA__TOPIC_PREFIX": settings.kafka.topic_prefix,
    }


def _refuse_a_file_line(settings: Settings, line_number: int) -> RejectedLine:
    delivery = Delivery(FILE_CHANNEL, "billing/events.jsonl", line_number)
    outcome = judge_json_line(
        FILE_PAYLOAD,
        WEBHOOK_SOURCES["billing"],
        delivery,
        datetime.now(tz=UTC),
        settings.ingest.max_line_bytes,
    )
    assert isinstance(outcome, RejectedLine)
    publisher = EventPublisher(settings)
    try:
        publisher.publish_rejection(outcome.record)
        publisher.flush(30)
    finally:
        publisher.close()
    return outcome


def _refuse_a_webhook_body(settings: Settings) -> None:
    secret = settings.ingest.webhook_secrets["product"].get_secret_value().encode()
    publisher = EventPublisher(settings)
    try:
        with TestClient(build_webhook_app(settings, publisher)) as client:
            answer = client.post(
                "/webhooks/product",
                content=WEBHOOK_PAYLOAD,
                headers={
                    "X-Signature": sign(secret, int(time.time()), WEBHOOK_PAYLOAD)
                },
            )
        assert answer.status_code == 400, answer.text
    finally:
        publisher.close()


def test_lists_each_refused_input_by_source_and_reason_without_its_payload(
    pipeline_settings: Settings,
) -> None:
    ensure_topics(pipeline_settings)
    file_rejection = _refuse_a_file_line(pipeline_settings, line_number=7)
    _refuse_a_webhook_body(pipeline_settings)
    env = _environment(pipeline_settings)

    result = CliRunner().invoke(
        app, ["deadletters", "list", "--topic", "ingest"], env=env
    )

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["total"] == 2
    assert sum(report["by_reason"].values()) == 2
    by_source = {letter["source_name"]: letter for letter in report["dead_letters"]}
    assert set(by_source) == {"billing/events.jsonl", "/webhooks/product"}
    from_file = by_source["billing/events.jsonl"]
    assert from_file["position"] == 7
    assert from_file["reason"] == file_rejection.reason
    assert from_file["source_system"] == "billing"
    assert datetime.fromisoformat(from_file["received_at"]).tzinfo is not None
    offsets = sorted(letter["offset"] for letter in report["dead_letters"])
    assert offsets == [0, 1]
    assert by_source["/webhooks/product"]["reason"]
    for personal in ("ann@x.test", "+47 99 88 77 66", "evt_file_1", "an event"):
        assert personal not in result.stdout
    assert str(file_rejection.record["detail"]) not in result.stdout


def test_the_sink_listing_stays_the_default(pipeline_settings: Settings) -> None:
    ensure_topics(pipeline_settings)
    _refuse_a_file_line(pipeline_settings, line_number=3)
    env = _environment(pipeline_settings)

    result = CliRunner().invoke(app, ["deadletters", "list"], env=env)

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["total"] == 0
    assert len(read_rejected_inputs(pipeline_settings)) == 1
