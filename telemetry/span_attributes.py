"""The attributes every hop puts on its span: Kafka messaging and business context.

Messaging attributes follow the OpenTelemetry messaging semantic conventions (the
names come from ``opentelemetry-semantic-conventions``, so a rename there is seen here).
Business attributes are what an operator searches by: the event, its source object, the
workflow it belongs to, the canonical account, the Odoo record and the outcome.

Every attribute set goes through ``telemetry.redaction.safe_attributes``: only ids,
types and outcomes are read from a record, never its free-text or contact fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from opentelemetry import trace
from opentelemetry.semconv._incubating.attributes import messaging_attributes as msg

from telemetry.redaction import safe_attributes

EVENT_ID = "event.id"
EVENT_TYPE = "event.type"
SOURCE_SYSTEM = "source.system"
SOURCE_OBJECT_ID = "source.object_id"
SOURCE_OBJECT_NUMBER = "source.object_number"
WORKFLOW = "workflow"
RECORD_KIND = "record.kind"
CANONICAL_ACCOUNT_ID = "account.canonical_id"
ODOO_MODEL = "odoo.model"
ODOO_METHOD = "odoo.method"
ODOO_EXTERNAL_ID = "odoo.external_id"
OUTCOME = "outcome"
OUTCOME_DETAIL = "outcome.detail"

# The attributes ``pipeline trace`` matches a query against.
SEARCHABLE_ATTRIBUTES = (
    EVENT_ID,
    SOURCE_OBJECT_ID,
    SOURCE_OBJECT_NUMBER,
    CANONICAL_ACCOUNT_ID,
    ODOO_EXTERNAL_ID,
)


class Outcome(StrEnum):
    """What a hop decided about a record; the last hop's outcome is the event's."""

    PASSED = "passed"
    ENRICHED = "enriched"
    NO_CHANGE = "no_change"
    WRITTEN = "written"
    SKIPPED_STALE = "skipped_stale"
    SKIPPED_BY_OWNERSHIP = "skipped_by_ownership"
    DUPLICATE = "duplicate"
    DEAD_LETTERED = "dead_lettered"
    LATE = "late"
    RETRY_LATER = "retry_later"
    UNREADABLE = "unreadable"


# Outcomes that end an event's path: nothing after them is expected in its trace.
TERMINAL_OUTCOMES = frozenset(
    {
        Outcome.WRITTEN,
        Outcome.SKIPPED_STALE,
        Outcome.SKIPPED_BY_OWNERSHIP,
        Outcome.DUPLICATE,
        Outcome.DEAD_LETTERED,
        Outcome.LATE,
        Outcome.NO_CHANGE,
    }
)


class Workflow(StrEnum):
    BILLING = "billing"
    SUBSCRIPTION = "subscription"
    USAGE = "usage"
    SUPPORT = "support"
    CUSTOMER_MASTER = "customer master"


WORKFLOW_BY_RECORD_KIND = {
    "account_profile": Workflow.CUSTOMER_MASTER,
    "contact": Workflow.CUSTOMER_MASTER,
    "account_merge": Workflow.CUSTOMER_MASTER,
    "subscription": Workflow.SUBSCRIPTION,
    "invoice": Workflow.BILLING,
    "usage_daily": Workflow.USAGE,
    "ticket": Workflow.SUPPORT,
}

# Source event types by prefix; the first match wins, the fallback is customer master
# (customers, contacts, companies, users and organizations).
_WORKFLOW_BY_EVENT_PREFIX = (
    ("customer.subscription.", Workflow.SUBSCRIPTION),
    ("invoice.", Workflow.BILLING),
    ("charge.", Workflow.BILLING),
    ("track", Workflow.USAGE),
    ("ticket.", Workflow.SUPPORT),
)


def workflow_of_event_type(event_type: str) -> Workflow:
    for prefix, workflow in _WORKFLOW_BY_EVENT_PREFIX:
        if event_type.startswith(prefix):
            return workflow
    return Workflow.CUSTOMER_MASTER


def workflow_of_record_kind(record_kind: str) -> Workflow:
    return WORKFLOW_BY_RECORD_KIND.get(record_kind, Workflow.CUSTOMER_MASTER)


def _payload_body(payload: Any) -> Mapping[str, Any]:
    # Avro unions of several records decode as (record name, value) pairs.
    if isinstance(payload, tuple) and len(payload) == 2:
        payload = payload[1]
    return payload if isinstance(payload, Mapping) else {}


def business_event_attributes(event: Mapping[str, Any]) -> dict[str, Any]:
    """Attributes of a ``BusinessEvent`` (the producers' and processors' record)."""
    event_type = str(event.get("event_type", ""))
    payload = _payload_body(event.get("payload"))
    return safe_attributes(
        {
            EVENT_ID: event.get("event_id"),
            EVENT_TYPE: event_type,
            SOURCE_SYSTEM: event.get("source_system"),
            SOURCE_OBJECT_ID: event.get("source_object_id"),
            SOURCE_OBJECT_NUMBER: payload.get("number"),
            WORKFLOW: workflow_of_event_type(event_type).value,
        }
    )


def enriched_record_attributes(record: Mapping[str, Any]) -> dict[str, Any]:
    """Attributes of an ``EnrichedEvent`` (the correlator's output, the sink's input)."""
    record_kind = str(record.get("record_kind", ""))
    payload = _payload_body(record.get("payload"))
    return safe_attributes(
        {
            EVENT_ID: record.get("event_id"),
            EVENT_TYPE: record.get("event_type"),
            SOURCE_SYSTEM: record.get("source_system"),
            SOURCE_OBJECT_ID: record.get("record_id"),
            SOURCE_OBJECT_NUMBER: payload.get("number"),
            RECORD_KIND: record_kind,
            WORKFLOW: workflow_of_record_kind(record_kind).value,
            CANONICAL_ACCOUNT_ID: record.get("canonical_account_id"),
        }
    )


def _key_text(key: bytes | str | None) -> str | None:
    if key is None:
        return None
    return key.decode("utf-8", "replace") if isinstance(key, bytes) else key


def kafka_send_attributes(topic: str, key: bytes | str | None) -> dict[str, Any]:
    """Attributes of a span that produces one record to ``topic``."""
    return safe_attributes(
        {
            msg.MESSAGING_SYSTEM: "kafka",
            msg.MESSAGING_OPERATION_TYPE: "send",
            msg.MESSAGING_OPERATION_NAME: "send",
            msg.MESSAGING_DESTINATION_NAME: topic,
            msg.MESSAGING_KAFKA_MESSAGE_KEY: _key_text(key),
        }
    )


def kafka_process_attributes(
    topic: str,
    partition: int,
    offset: int,
    key: bytes | str | None,
    consumer_group: str,
) -> dict[str, Any]:
    """Attributes of a span that processes one consumed record."""
    return safe_attributes(
        {
            msg.MESSAGING_SYSTEM: "kafka",
            msg.MESSAGING_OPERATION_TYPE: "process",
            msg.MESSAGING_OPERATION_NAME: "process",
            msg.MESSAGING_DESTINATION_NAME: topic,
            msg.MESSAGING_DESTINATION_PARTITION_ID: str(partition),
            msg.MESSAGING_KAFKA_OFFSET: offset,
            msg.MESSAGING_KAFKA_MESSAGE_KEY: _key_text(key),
            msg.MESSAGING_CONSUMER_GROUP_NAME: consumer_group,
        }
    )


def annotate_current_span(attributes: Mapping[str, Any]) -> None:
    """Put ``attributes`` (through the redaction policy) on the span in progress."""
    trace.get_current_span().set_attributes(safe_attributes(attributes))


def record_outcome(outcome: Outcome, detail: str | None = None) -> None:
    """Mark the span in progress with what its hop decided."""
    annotate_current_span({OUTCOME: outcome.value, OUTCOME_DETAIL: detail})
