"""Reading the ``BusinessEvent`` envelope the way every processor needs it.

Events arrive either straight from ``AvroCodec.decode`` (timestamps as aware
``datetime``) or from in-process producers (``datetime`` or integer microseconds), and
processor state must stay JSON-serialisable so Faust tables can hold it. These functions
turn both shapes into plain values: times in UTC microseconds, node references as
``<kind>:<id>`` keys, payloads as ``(short kind, dict)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

PAYLOAD_NAMESPACE = "pipeline."


def to_micros(value: datetime | int | float) -> int:
    """A timestamp as integer microseconds since the Unix epoch (UTC)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            # Naive datetimes inside the pipeline are UTC by convention (the CRM export
            # zone is declared UTC), so they are never read as local time.
            value = value.replace(tzinfo=UTC)
        delta = value - datetime(1970, 1, 1, tzinfo=UTC)
        return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return int(value)


def utc_day(micros: int) -> str:
    """The UTC calendar day (YYYY-MM-DD) of a microsecond timestamp."""
    return datetime.fromtimestamp(micros / 1_000_000, tz=UTC).strftime("%Y-%m-%d")


def node_key(node: Mapping[str, Any]) -> str:
    """``<kind>:<id>`` for a NodeRef record."""
    return f"{node['kind']}:{node['id']}"


def node_kind(key: str) -> str:
    return key.split(":", 1)[0]


def node_id(key: str) -> str:
    return key.split(":", 1)[1]


def payload_of(event: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The payload as ``(short kind, plain dict)``, e.g. ``("Invoice", {...})``.

    Datetimes inside the payload become microseconds so the dict can be stored as JSON.
    """
    full_name, body = event["payload"]
    kind = full_name.removeprefix(PAYLOAD_NAMESPACE)
    return kind, {name: _plain(value) for name, value in body.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return to_micros(value)
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {name: _plain(item) for name, item in value.items()}
    return value


def delivery_of(event: Mapping[str, Any]) -> dict[str, Any] | None:
    """The event's Delivery record as a plain dict, or None when it has none."""
    delivery = event.get("delivery")
    if delivery is None:
        return None
    if isinstance(delivery, tuple):
        delivery = delivery[1]
    return {
        "channel": delivery["channel"],
        "source_name": delivery["source_name"],
        "position": int(delivery["position"]),
    }
