"""Audit events: what the Odoo sink did to each record, on the ``audit.sink`` topic.

One event per record the sink finished: created, updated, merged, skipped (stale, or
because its source does not own the fields), unchanged, or dead-lettered. The value is
JSON (UTF-8), not Avro: it is read by people and log tools, and its shape may grow; it is
keyed by canonical account id so one account's trail stays in order.

Fields: ``audit_id`` (stable for one record position and action, so a re-delivered
record's duplicate event can be recognised), ``at`` (UTC, ISO 8601), ``sink_instance``
(who), ``action``, ``model``, ``external_id``, ``record_kind``, ``event_id``,
``source_system``, ``trace_id``, ``reason`` (why), ``skipped_fields``, ``before`` and
``after`` (the written fields as Odoo held them and as they were written; ``before`` is
known for batched writes only) and ``position`` (topic, partition, offset of the record).

Personal data is masked unless ``sink.audit_mask_personal_data`` is false: e-mail
addresses keep only their domain, phone numbers their last two digits, and person names
(contacts) become ``***``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from eventbus import Topics
from eventbus.kafka_config import producer_config
from pipeline.settings import Settings
from sinks.consumer import DeadLetter, RecordSource, trace_id_of
from sinks.odoo_writer import WriteAction, WriteOutcome

logger = logging.getLogger(__name__)

MASK = "***"
# Fields holding e-mail addresses (single or JSON lists) and phone numbers.
EMAIL_FIELDS = frozenset({"email", "x_contact_emails", "x_billing_emails"})
PHONE_FIELDS = frozenset({"phone", "mobile"})

REASONS = {
    WriteAction.CREATED: "no Odoo record held this external id",
    WriteAction.UPDATED: "the record's version is newer than the one Odoo held",
    WriteAction.SKIPPED_STALE: "Odoo holds the same or a newer version",
    WriteAction.SKIPPED_NOT_OWNER: "the record's source owns none of its fields",
    WriteAction.MERGED: "the account was absorbed by another",
    WriteAction.UNCHANGED: "the merge had been applied already",
}


@dataclass(frozen=True)
class AuditEvent:
    key: str
    body: dict[str, Any]

    def value(self) -> bytes:
        return json.dumps(self.body, ensure_ascii=False, sort_keys=True).encode()


class PersonalDataMask:
    """Masks e-mails, phones and person names in field values."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def fields(self, model: str, values: dict[str, Any]) -> dict[str, Any]:
        if not self.enabled:
            return dict(values)
        is_person = values.get("is_company") is False or "x_crm_contact_id" in values
        return {
            name: self._value(name, value, is_person) for name, value in values.items()
        }

    def _value(self, name: str, value: Any, is_person: bool) -> Any:
        if value in (False, None, ""):
            return value
        if name in EMAIL_FIELDS:
            if isinstance(value, str) and value.startswith("["):
                return json.dumps([_masked_email(e) for e in json.loads(value)])
            return _masked_email(str(value))
        if name in PHONE_FIELDS:
            digits = "".join(c for c in str(value) if c.isdigit())
            return MASK + digits[-2:]
        if name == "name" and is_person:
            return MASK
        return value


def _masked_email(address: str) -> str:
    _, _, domain = address.rpartition("@")
    return f"{MASK}@{domain}" if domain else MASK


def default_instance_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class AuditTrail:
    """Builds audit events for finished records; ``AuditTopic`` publishes them."""

    def __init__(self, instance_id: str, mask: PersonalDataMask) -> None:
        self._instance = instance_id or default_instance_id()
        self._mask = mask

    def for_outcome(
        self,
        source: RecordSource,
        event: dict[str, Any] | None,
        outcome: WriteOutcome,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> AuditEvent:
        reason = REASONS[outcome.action]
        if outcome.skipped_fields and outcome.action is not (
            WriteAction.SKIPPED_NOT_OWNER
        ):
            reason += "; fields not owned by the source were left out"
        return self._event(
            source,
            event,
            action=outcome.action.value,
            model=outcome.model,
            external_id=outcome.xmlid_name,
            reason=reason,
            skipped_fields=list(outcome.skipped_fields),
            before=self._changed(outcome.model, before or {}, after or {}),
            after=self._mask.fields(outcome.model, after or {}),
        )

    def for_dead_letter(
        self, event: dict[str, Any] | None, dead_letter: DeadLetter
    ) -> AuditEvent:
        # The error message may quote the record's values; only its class is kept.
        return self._event(
            dead_letter.source,
            event,
            action="dead_lettered",
            model="",
            external_id="",
            reason=f"{dead_letter.error_class} after {dead_letter.attempts} attempts",
            skipped_fields=[],
            before={},
            after={},
        )

    def _changed(
        self, model: str, before: dict[str, Any], after: dict[str, Any]
    ) -> dict[str, Any]:
        held = {name: _plain(before.get(name, False)) for name in after if before}
        return self._mask.fields(model, held)

    def _event(
        self,
        source: RecordSource,
        event: dict[str, Any] | None,
        *,
        action: str,
        model: str,
        external_id: str,
        reason: str,
        skipped_fields: list[str],
        before: dict[str, Any],
        after: dict[str, Any],
    ) -> AuditEvent:
        position = f"{source.topic}/{source.partition}/{source.offset}/{action}"
        event = event or {}
        return AuditEvent(
            key=str(event.get("canonical_account_id") or ""),
            body={
                "audit_id": hashlib.sha256(position.encode()).hexdigest()[:32],
                "at": datetime.now(UTC).isoformat(),
                "sink_instance": self._instance,
                "action": action,
                "model": model,
                "external_id": external_id,
                "record_kind": str(event.get("record_kind") or ""),
                "event_id": str(event.get("event_id") or ""),
                "source_system": str(event.get("source_system") or ""),
                "trace_id": trace_id_of(event),
                "reason": reason,
                "skipped_fields": skipped_fields,
                "before": before,
                "after": {k: _plain(v) for k, v in after.items()},
                "position": {
                    "topic": source.topic,
                    "partition": source.partition,
                    "offset": source.offset,
                },
            },
        )


def _plain(value: Any) -> Any:
    """A many2one read as ``[id, name]`` is audited as its id."""
    if isinstance(value, list) and len(value) == 2 and isinstance(value[0], int):
        return value[0]
    return value


class AuditTopic:
    """Produces audit events to ``audit.sink``; flushed before offsets are committed."""

    def __init__(self, settings: Settings, client_id: str) -> None:
        self._topic = Topics(settings.kafka.topic_prefix).sink_audit
        self._producer = Producer(producer_config(settings.kafka, client_id))

    def publish(self, audit: AuditEvent) -> None:
        self._producer.produce(
            self._topic, key=audit.key.encode() or None, value=audit.value()
        )
        self._producer.poll(0)

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until every audit event is stored; raise if some are not.

        Called before offsets are committed, so no finished record lacks its event.
        """
        undelivered = self._producer.flush(timeout)
        if undelivered:
            raise KafkaException(
                KafkaError(
                    KafkaError._MSG_TIMED_OUT,
                    f"{undelivered} audit events not delivered to {self._topic}",
                )
            )

    def close(self) -> None:
        self.flush()
