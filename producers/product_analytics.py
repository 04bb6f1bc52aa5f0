"""Product-analytics adapter: Segment-shaped identify, group and track calls.

A track call is usage: it counts once per ``messageId`` and carries a quantity (API calls
metered, seats added, or 1) and the UTC day it falls on, which is how usage is summed.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from producers.business_event import (
    CRM_COMPANY,
    PRODUCT_GROUP,
    PRODUCT_USER,
    MappedEvent,
    NodeRef,
    identity_hints,
)
from producers.exceptions import PayloadError
from producers.identifiers import normalize_domain, normalize_email
from producers.source_model import (
    IsoTimestamp,
    OptionalSourceId,
    OptionalText,
    SourceModel,
    parse_payload,
    whole_number,
)
from producers.validation import INVALID_PAYLOAD

SOURCE_SYSTEM = "product"

# Track events whose quantity is a property rather than one occurrence.
QUANTITY_PROPERTY_BY_EVENT = {
    "API Calls Metered": "calls",
    "Seat Added": "seats_added",
}


class SegmentContext(SourceModel):
    group_id: OptionalSourceId = Field(default=None, alias="groupId")


class SegmentMessage(SourceModel):
    type: str
    message_id: str = Field(alias="messageId")
    timestamp: IsoTimestamp
    user_id: OptionalSourceId = Field(default=None, alias="userId")
    group_id: OptionalSourceId = Field(default=None, alias="groupId")
    event: OptionalText = None
    traits: dict[str, Any] = Field(default_factory=dict)
    properties: dict[str, Any] = Field(default_factory=dict)
    context: SegmentContext = Field(default_factory=SegmentContext)


class SegmentUserTraits(SourceModel):
    email: OptionalText = None


class SegmentGroupTraits(SourceModel):
    name: OptionalText = None
    website: OptionalText = None
    crm_company_id: OptionalSourceId = None


def _required(value: str | None, field_name: str, message: SegmentMessage) -> str:
    if value is None:
        raise PayloadError(
            INVALID_PAYLOAD, f"message {message.message_id}: no {field_name}"
        )
    return value


def _envelope(message: SegmentMessage) -> dict[str, Any]:
    return {
        "event_id": message.message_id,
        "event_type": message.type,
        "source_system": SOURCE_SYSTEM,
        "source_object_id": message.message_id,
        "occurred_at": message.timestamp,
    }


def _identify(message: SegmentMessage) -> MappedEvent:
    user_id = _required(message.user_id, "userId", message)
    traits = parse_payload(SegmentUserTraits, message.traits, message.message_id)
    email = normalize_email(traits.email)
    return MappedEvent(
        **_envelope(message),
        identity=identity_hints(NodeRef(PRODUCT_USER, user_id), emails=(email,)),
        payload_schema="pipeline.ProductUser",
        payload={"user_id": user_id, "email": email},
    )


def _group(message: SegmentMessage) -> MappedEvent:
    group_id = _required(message.group_id, "groupId", message)
    traits = parse_payload(SegmentGroupTraits, message.traits, message.message_id)
    website_domain = normalize_domain(traits.website)
    crm_company_id = traits.crm_company_id
    return MappedEvent(
        **_envelope(message),
        identity=identity_hints(
            NodeRef(PRODUCT_GROUP, group_id),
            links=(NodeRef(CRM_COMPANY, crm_company_id) if crm_company_id else None,),
            domains=(website_domain,),
        ),
        payload_schema="pipeline.ProductGroup",
        payload={
            "group_id": group_id,
            "user_id": message.user_id,
            "name": traits.name,
            "website_domain": website_domain,
            "crm_company_id": crm_company_id,
        },
    )


def track_quantity(event_name: str, properties: dict[str, Any], what: str) -> int:
    """How much one track call counts for in the daily usage sum."""
    quantity_property = QUANTITY_PROPERTY_BY_EVENT.get(event_name)
    if quantity_property is None:
        return 1
    return whole_number(properties.get(quantity_property), quantity_property, what)


def _track(message: SegmentMessage) -> MappedEvent:
    event_name = _required(message.event, "event name", message)
    group_id = message.context.group_id
    if group_id is not None:
        subject = NodeRef(PRODUCT_GROUP, group_id)
    else:
        subject = NodeRef(PRODUCT_USER, _required(message.user_id, "userId", message))
    quantity = track_quantity(
        event_name, message.properties, f"message {message.message_id}"
    )
    return MappedEvent(
        **_envelope(message),
        identity=identity_hints(subject),
        payload_schema="pipeline.UsageEvent",
        payload={
            "message_id": message.message_id,
            "group_id": group_id,
            "user_id": message.user_id,
            "event_name": event_name,
            "quantity": quantity,
            "day": message.timestamp.date().isoformat(),
        },
    )


def map_segment_message(document: dict[str, Any]) -> MappedEvent:
    """Map a validated Segment call; raises PayloadError when required fields lack."""
    message = parse_payload(SegmentMessage, document, "Segment message")
    if message.type == "identify":
        return _identify(message)
    if message.type == "group":
        return _group(message)
    if message.type == "track":
        return _track(message)
    raise PayloadError(
        INVALID_PAYLOAD, f"message {message.message_id}: no mapping for its type"
    )
