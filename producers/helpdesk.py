"""Helpdesk adapter: Zendesk-shaped ticket events and the user/organization exports.

Every ticket event's ``detail`` is the ticket as it was after the event, so each one maps
to a full ticket snapshot. Events write ids as strings and status/priority in upper case;
the exports write ids as JSON numbers. Both become decimal text and lower case here.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from producers.business_event import (
    CRM_COMPANY,
    HELPDESK_ORGANIZATION,
    HELPDESK_USER,
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
    SourceId,
    SourceModel,
    parse_payload,
)
from producers.timestamps import isoformat_utc
from producers.validation import INVALID_PAYLOAD

SOURCE_SYSTEM = "helpdesk"
EVENT_TYPE_PREFIX = "zen:event-type:"


class ZendeskTicket(SourceModel):
    id: SourceId
    subject: OptionalText = None
    status: OptionalText = None
    priority: OptionalText = None
    organization_id: OptionalSourceId = None
    requester_id: OptionalSourceId = None


class ZendeskTicketEvent(SourceModel):
    id: str
    type: str
    time: IsoTimestamp
    detail: ZendeskTicket


class ZendeskUser(SourceModel):
    id: SourceId
    email: OptionalText = None
    organization_id: OptionalSourceId = None
    role: OptionalText = None
    updated_at: IsoTimestamp


class ZendeskOrganization(SourceModel):
    id: SourceId
    name: OptionalText = None
    external_id: OptionalSourceId = None
    domain_names: list[str] = Field(default_factory=list)
    updated_at: IsoTimestamp


def _lower(value: str | None) -> str | None:
    return value.lower() if value is not None else None


def map_ticket_event(document: dict[str, Any]) -> MappedEvent:
    """Map a validated ticket event; raises PayloadError when required fields lack."""
    event = parse_payload(ZendeskTicketEvent, document, "Zendesk ticket event")
    ticket = event.detail
    if ticket.organization_id is not None:
        subject = NodeRef(HELPDESK_ORGANIZATION, ticket.organization_id)
    elif ticket.requester_id is not None:
        subject = NodeRef(HELPDESK_USER, ticket.requester_id)
    else:
        raise PayloadError(
            INVALID_PAYLOAD,
            f"event {event.id}: ticket has neither organization nor requester",
        )
    return MappedEvent(
        event_id=event.id,
        event_type=event.type.removeprefix(EVENT_TYPE_PREFIX),
        source_system=SOURCE_SYSTEM,
        source_object_id=ticket.id,
        occurred_at=event.time,
        identity=identity_hints(subject),
        payload_schema="pipeline.Ticket",
        payload={
            "ticket_id": ticket.id,
            "subject": ticket.subject,
            "status": _lower(ticket.status),
            "priority": _lower(ticket.priority),
            "organization_id": ticket.organization_id,
            "requester_id": ticket.requester_id,
        },
    )


def map_user_export(document: dict[str, Any]) -> MappedEvent:
    """Map one line of the user export (a reference record, not an event)."""
    user = parse_payload(ZendeskUser, document, "Zendesk user")
    email = normalize_email(user.email)
    organization = user.organization_id
    return MappedEvent(
        event_id=f"{HELPDESK_USER}:{user.id}:{isoformat_utc(user.updated_at)}",
        event_type="helpdesk.user",
        source_system=SOURCE_SYSTEM,
        source_object_id=user.id,
        occurred_at=user.updated_at,
        identity=identity_hints(
            NodeRef(HELPDESK_USER, user.id),
            links=(
                NodeRef(HELPDESK_ORGANIZATION, organization) if organization else None,
            ),
            emails=(email,),
        ),
        payload_schema="pipeline.HelpdeskUser",
        payload={
            "user_id": user.id,
            "email": email,
            "organization_id": organization,
            "role": user.role,
        },
    )


def map_organization_export(document: dict[str, Any]) -> MappedEvent:
    """Map one line of the organization export (a reference record, not an event)."""
    organization = parse_payload(ZendeskOrganization, document, "Zendesk organization")
    domains = tuple(
        dict.fromkeys(
            d for d in (normalize_domain(n) for n in organization.domain_names) if d
        )
    )
    external_id = organization.external_id
    return MappedEvent(
        event_id=(
            f"{HELPDESK_ORGANIZATION}:{organization.id}:"
            f"{isoformat_utc(organization.updated_at)}"
        ),
        event_type="helpdesk.organization",
        source_system=SOURCE_SYSTEM,
        source_object_id=organization.id,
        occurred_at=organization.updated_at,
        identity=identity_hints(
            NodeRef(HELPDESK_ORGANIZATION, organization.id),
            links=(NodeRef(CRM_COMPANY, external_id) if external_id else None,),
            domains=domains,
        ),
        payload_schema="pipeline.HelpdeskOrganization",
        payload={
            "organization_id": organization.id,
            "name": organization.name,
            "external_id": external_id,
            "domain_names": list(domains),
        },
    )
