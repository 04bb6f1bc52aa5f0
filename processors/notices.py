"""``ProcessingNotice`` records: what a processor decided about an event it did not
pass on as-is (a duplicate it dropped)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from processors.envelope import delivery_of

DUPLICATE = "duplicate"


def processing_notice(
    kind: str,
    event: Mapping[str, Any],
    detail: str,
    noticed_at: int,
    first_delivery: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A ProcessingNotice record about ``event`` (``delivery`` is the event's own)."""
    return {
        "kind": kind,
        "event_id": event["event_id"],
        "source_system": str(event["source_system"]),
        "delivery": delivery_of(event),
        "first_delivery": first_delivery,
        "detail": detail,
        "noticed_at": noticed_at,
    }


def duplicate_notice(
    event: Mapping[str, Any], first_delivery: dict[str, Any] | None, noticed_at: int
) -> dict[str, Any]:
    where = (
        f"{first_delivery['source_name']}:{first_delivery['position']}"
        if first_delivery
        else "an earlier delivery"
    )
    return processing_notice(
        DUPLICATE,
        event,
        f"event {event['event_id']} was already accepted from {where}; dropped",
        noticed_at,
        first_delivery,
    )
