"""Source timestamps as timezone-aware UTC datetimes.

Every comparison of event time happens in UTC. Sources write time three ways: Unix seconds
(Stripe), ISO-8601 with ``Z`` or an offset (Segment, Zendesk), and CRM export dates without
any offset, which the export declares as UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime


def from_unix_seconds(seconds: int | float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def parse_iso8601(text: str) -> datetime:
    """Parse ISO-8601; an offset is converted to UTC, a missing offset is read as UTC.

    Raises ValueError for text that is not a date-time.
    """
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = f"{value[:-1]}+00:00"
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_crm_datetime(text: str) -> datetime:
    """A CRM export date such as ``2024-09-02 09:14`` (no offset: UTC by declaration)."""
    return parse_iso8601(text)


def isoformat_utc(moment: datetime) -> str:
    """Stable text form used inside export event ids, e.g. ``2024-09-02T09:14:00Z``."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
