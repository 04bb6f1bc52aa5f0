"""One event of an account's history, stamped with the time it happened."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

BILLING = "billing/stripe_events.jsonl"
PRODUCT = "product/segment_events.jsonl"
HELPDESK = "helpdesk/zendesk_webhooks.jsonl"
EVENT_FILES = (BILLING, PRODUCT, HELPDESK)


@dataclass(slots=True)
class TimedEvent:
    """A payload that really happened at ``at`` (Unix seconds) in one event file.

    ``event_id`` is the sender's identity for the event (Stripe ``id``, Segment
    ``messageId``, Zendesk ``id``).
    """

    at: float
    event_file: str
    event_id: str
    payload: dict[str, Any]
