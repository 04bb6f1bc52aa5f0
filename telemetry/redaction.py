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
"""

from __future__ import annotations

import re
from collections.abc import Mapping
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

EMAIL_PATTERN = re.compile(r"[^\s@<>\"',;:]+@[^\s@<>\"',;:]+\.[A-Za-z]{2,}")

# Digits grouped by spaces, dots, dashes or parentheses, or led by ``+``. Long digit
# runs without separators (Kafka offsets, CRM record ids, microsecond versions) are ids,
# not phone numbers, so a match needs a separator or a leading ``+``; and a group glued
# to letters or dashes is part of an id (UUIDs, ISO dates), not a number on its own.
PHONE_PATTERN = re.compile(
    r"(?<![\w+-])(?:\+\d[\d\s().-]{5,}\d"
    r"|\(?\d{2,4}\)?[\s.-]\d{2,4}[\s.-]\d{3,4})(?![\w-])"
)


def is_sensitive_field(field: str) -> bool:
    lowered = field.lower()
    if lowered in SAFE_FIELD_NAMES:
        return False
    return any(marker in lowered for marker in SENSITIVE_FIELD_MARKERS)


def contains_personal_data(text: str) -> bool:
    """Whether ``text`` holds an e-mail address or a phone-number-shaped string."""
    return bool(EMAIL_PATTERN.search(text) or PHONE_PATTERN.search(text))


def redact(field: str, value: Any) -> Any:
    """``value`` unless its field name or its text says it may be personal data."""
    if is_sensitive_field(field):
        return REDACTED
    if isinstance(value, str) and contains_personal_data(value):
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
        if not isinstance(value, str | bool | int | float):
            value = str(value)
        cleaned[field] = redact(field, value)
    return cleaned
