"""What reading one input line or request yields: an accepted event or a rejection."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from producers.business_event import Delivery
from producers.validation import Rejection

RAW_CAP_BYTES = 900 * 1024
DETAIL_CAP_CHARS = 300


def _storable(text: str, cap: int | None = None) -> str:
    """Text that always encodes: a lone surrogate from a JSON escape becomes "?", and a
    detail quoting field names from the input stays short."""
    safe = text.encode("utf-8", "replace").decode("utf-8")
    return safe if cap is None or len(safe) <= cap else f"{safe[: cap - 1]}…"


@dataclass(frozen=True)
class AcceptedEvent:
    """A business event ready to publish on the source's topic, keyed by ``key``."""

    source_system: str
    key: str
    event: dict[str, Any]


@dataclass(frozen=True)
class RejectedLine:
    """A ``RejectedInput`` record (schemas/pipeline.RejectedInput.avsc)."""

    record: dict[str, Any]

    @property
    def reason(self) -> str:
        return str(self.record["reason"])

    @property
    def source_name(self) -> str:
        return str(self.record["source_name"])


IngestOutcome = AcceptedEvent | RejectedLine


def rejected_input(
    source_system: str,
    delivery: Delivery,
    rejection: Rejection,
    raw: bytes,
    received_at: datetime,
    event_id: str | None = None,
) -> RejectedLine:
    """The dead-letter record for ``raw``, capped so it always fits one Kafka record."""
    return RejectedLine(
        {
            "source_system": source_system,
            "source_name": delivery.source_name,
            "position": delivery.position,
            "reason": rejection.reason,
            "detail": _storable(rejection.detail, DETAIL_CAP_CHARS),
            "event_id": _storable(event_id) if event_id is not None else None,
            "received_at": received_at,
            "raw": raw[:RAW_CAP_BYTES],
            "raw_truncated": len(raw) > RAW_CAP_BYTES,
        }
    )
