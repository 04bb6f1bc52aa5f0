"""The one policy that keeps personal data and secrets out of logs, spans and metrics.

Two checks, both applied to every log field and every span attribute:

* by name: a field whose name suggests a secret or personal data (``email``, ``phone``,
  ``name``, ``token``...) is replaced by ``[redacted]`` whatever its value;
* by value: a string that contains an e-mail address or something shaped like a phone
  number is replaced too, because ids and keys built by sources sometimes embed them
  (a product user id that is an e-mail, a free-text detail quoting a requester).

A person's name cannot be recognised by its shape, so the name check is the only guard
against names: span attributes must come from ids, types and outcomes, never from
free-text fields of a payload.

Every record of every hop goes through this policy several times, so it is built to be
cheap without skipping a check:

* the verdict on a field name (``field_policy``) is computed once per name;
* a value is searched for an e-mail only when it holds an ``@``, and for a phone number
  only when it holds a character a phone number needs (``+``, a dash, a dot or a
  space); both are conditions the patterns themselves impose, so no match is missed;
* fields whose values come from a small closed set (enum members, topic and group names
  from configuration, Odoo models) have each distinct value scanned once and the
  verdict remembered. Every value is still scanned the first time it is seen; an
  unexpected flood of distinct values only makes the memory forget older verdicts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import Enum
from functools import lru_cache
from typing import Any

REDACTED = "[redacted]"

SENSITIVE_FIELD_MARKERS = (
    "password",
    "secret",
    "api_key",
    "apikey",
    "token",
    "authorization",
    "email",
    "phone",
    "name",
    "subject",
    "address",
)

# Field names that contain a marker but hold no personal data: technical names of
# topics, models, events and the messaging conventions' destination/group names.
SAFE_FIELD_NAMES = frozenset(
    {
        "topic_name",
        "model_name",
        "event_name",
        "source_name",
        "logger_name",
        "service.name",
        "messaging.destination.name",
        "messaging.consumer.group.name",
        "messaging.operation.name",
        "server.address",
    }
)

# Fields whose values the pipeline draws from a small closed set: enum members,
# constants of the code, names from configuration. Their values are still scanned, but
# each distinct value only once. Ids, keys and numbers chosen by a source system
# (``event.id``, ``source.object_id``, ``messaging.kafka.message.key``,
# ``odoo.external_id``, ``source.object_number``) are deliberately absent: they are
# scanned every time.
CLOSED_SET_FIELD_NAMES = frozenset(
    {
        "service.name",
        "messaging.system",
        "messaging.operation.type",
        "messaging.operation.name",
        "messaging.destination.name",
        "messaging.destination.partition.id",
        "messaging.consumer.group.name",
        "event.type",
        "source.system",
        "workflow",
        "record.kind",
        "outcome",
        "outcome.detail",
        "odoo.model",
        "odoo.method",
        "rpc.system",
        "rpc.method",
        "server.address",
        "error.type",
    }
)

# How many distinct closed-set values keep their verdict; far above what the enums and
# the configuration produce, small enough to bound the memory if a field misbehaves.
CLOSED_SET_VERDICTS_KEPT = 4096

EMAIL_PATTERN = re.compile(r"[^\s@<>\"',;:]+@[^\s@<>\"',;:]+\.[A-Za-z]{2,}")

# Digits grouped by spaces, dots, dashes or parentheses, or led by ``+``. Long digit
# runs without separators (Kafka offsets, CRM record ids, microsecond versions) are ids,
# not phone numbers, so a match needs a separator or a leading ``+``; and a group glued
# to letters or dashes is part of an id (UUIDs, ISO dates), not a number on its own.
PHONE_PATTERN = re.compile(
    r"(?<![\w+-])(?:\+\d[\d\s().-]{5,}\d"
    r"|\(?\d{2,4}\)?[\s.-]\d{2,4}[\s.-]\d{3,4})(?![\w-])"
)

# Attribute values that are never scanned: a number holds no e-mail, and a bare digit
# run is not phone-shaped (see PHONE_PATTERN).
_NUMBERS = (bool, int, float)


class FieldPolicy(Enum):
    """What the policy does with the values of a field, decided by its name alone."""

    REDACT = "redact"
    """The name says secret or personal data: the value is never shown."""
    SCAN = "scan"
    """Every value is scanned for an e-mail address or a phone number."""
    SCAN_ONCE = "scan_once"
    """Values come from a closed set: each distinct value is scanned once."""


def is_sensitive_field(field: str) -> bool:
    lowered = field.lower()
    if lowered in SAFE_FIELD_NAMES:
        return False
    return any(marker in lowered for marker in SENSITIVE_FIELD_MARKERS)


@lru_cache(maxsize=1024)
def field_policy(field: str) -> FieldPolicy:
    """The policy for ``field``'s values; names are few, so each is judged once."""
    if is_sensitive_field(field):
        return FieldPolicy.REDACT
    if field in CLOSED_SET_FIELD_NAMES:
        return FieldPolicy.SCAN_ONCE
    return FieldPolicy.SCAN


def _may_hold_phone_number(text: str) -> bool:
    # Both branches of PHONE_PATTERN need a ``+`` or one of its separators (``\s``,
    # ``.``, ``-``). Every whitespace character other than the space is a control or
    # separator character, which ``isprintable`` rejects, so this never rules out a
    # string the pattern would match.
    return (
        "+" in text
        or "-" in text
        or "." in text
        or " " in text
        or not text.isprintable()
    )


def contains_personal_data(text: str) -> bool:
    """Whether ``text`` holds an e-mail address or a phone-number-shaped string."""
    if "@" in text and EMAIL_PATTERN.search(text):
        return True
    return _may_hold_phone_number(text) and PHONE_PATTERN.search(text) is not None


@lru_cache(maxsize=CLOSED_SET_VERDICTS_KEPT)
def _closed_set_value_holds_personal_data(text: str) -> bool:
    return contains_personal_data(text)


def _text_is_shown(policy: FieldPolicy, text: str) -> bool:
    if policy is FieldPolicy.SCAN_ONCE:
        return not _closed_set_value_holds_personal_data(text)
    return not contains_personal_data(text)


def redact(field: str, value: Any) -> Any:
    """``value`` unless its field name or its text says it may be personal data."""
    policy = field_policy(field)
    if policy is FieldPolicy.REDACT:
        return REDACTED
    if isinstance(value, str) and not _text_is_shown(policy, value):
        return REDACTED
    return value


def safe_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Span attributes with the policy applied and empty values dropped.

    OpenTelemetry accepts only str, bool, int, float and sequences of them; anything
    else is turned into its string form before the policy looks at it.
    """
    cleaned: dict[str, Any] = {}
    for field, value in attributes.items():
        if value is None or value == "":
            continue
        policy = field_policy(field)
        if policy is FieldPolicy.REDACT:
            cleaned[field] = REDACTED
            continue
        if not isinstance(value, str):
            if isinstance(value, _NUMBERS):
                cleaned[field] = value
                continue
            value = str(value)
        # The policy test is spelled out here rather than through ``_text_is_shown``:
        # this loop runs for every attribute of every record.
        if policy is FieldPolicy.SCAN_ONCE:
            holds_personal_data = _closed_set_value_holds_personal_data(value)
        else:
            holds_personal_data = contains_personal_data(value)
        cleaned[field] = REDACTED if holds_personal_data else value
    return cleaned
