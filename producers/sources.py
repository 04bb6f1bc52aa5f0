"""The input kinds the producers understand and how each is validated and mapped.

A JSON source pairs its validation rules with the adapter function that maps a valid
document. The same pairing serves file ingestion and the webhook endpoint, so a line
is judged identically however it arrives.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from producers import billing, crm, helpdesk, product_analytics
from producers.business_event import MappedEvent
from producers.validation import (
    BILLING_RULES,
    HELPDESK_EVENT_RULES,
    PRODUCT_RULES,
    REFERENCE_EXPORT_RULES,
    SourceRules,
)

DocumentMapper = Callable[[dict[str, Any]], MappedEvent]
RowMapper = Callable[[dict[str, str]], MappedEvent]


@dataclass(frozen=True)
class JsonSource:
    source_system: str
    rules: SourceRules
    map_document: DocumentMapper

    def event_id_of(self, document: dict[str, Any]) -> str | None:
        """The source's own event id, for a dead-letter record of a parsed document."""
        for field_name in ("id", "messageId"):
            value = document.get(field_name)
            if isinstance(value, str | int) and not isinstance(value, bool):
                return str(value)
        return None


@dataclass(frozen=True)
class CsvSource:
    source_system: str
    record_id_column: str
    map_row: RowMapper


STRIPE_EVENTS = JsonSource(
    billing.SOURCE_SYSTEM, BILLING_RULES, billing.map_stripe_event
)
SEGMENT_EVENTS = JsonSource(
    product_analytics.SOURCE_SYSTEM,
    PRODUCT_RULES,
    product_analytics.map_segment_message,
)
ZENDESK_TICKET_EVENTS = JsonSource(
    helpdesk.SOURCE_SYSTEM, HELPDESK_EVENT_RULES, helpdesk.map_ticket_event
)
ZENDESK_USER_EXPORT = JsonSource(
    helpdesk.SOURCE_SYSTEM, REFERENCE_EXPORT_RULES, helpdesk.map_user_export
)
ZENDESK_ORGANIZATION_EXPORT = JsonSource(
    helpdesk.SOURCE_SYSTEM, REFERENCE_EXPORT_RULES, helpdesk.map_organization_export
)
CRM_COMPANIES = CsvSource(crm.SOURCE_SYSTEM, crm.RECORD_ID_COLUMN, crm.map_company_row)
CRM_CONTACTS = CsvSource(crm.SOURCE_SYSTEM, crm.RECORD_ID_COLUMN, crm.map_contact_row)

# The webhook routes accept the event streams only; exports arrive as files.
WEBHOOK_SOURCES: dict[str, JsonSource] = {
    "billing": STRIPE_EVENTS,
    "product": SEGMENT_EVENTS,
    "helpdesk": ZENDESK_TICKET_EVENTS,
}
