"""The ``BusinessEvent`` envelope every adapter fills (schemas/pipeline.BusinessEvent.avsc).

Adapters only extract: they state which node a record is about (``subject``), which node
its account is keyed by (``anchor``) and the links and addresses the source itself
asserts. Deciding which canonical account that is belongs to the processors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from producers.identifiers import normalize_domain, normalize_email

CRM_COMPANY = "crm_company"
CRM_CONTACT = "crm_contact"
BILLING_CUSTOMER = "billing_customer"
PRODUCT_GROUP = "product_group"
PRODUCT_USER = "product_user"
HELPDESK_ORGANIZATION = "helpdesk_organization"
HELPDESK_USER = "helpdesk_user"


@dataclass(frozen=True)
class NodeRef:
    kind: str
    id: str

    def as_record(self) -> dict[str, str]:
        return {"kind": self.kind, "id": self.id}


@dataclass(frozen=True)
class IdentityHints:
    subject: NodeRef
    anchor: NodeRef
    explicit_links: tuple[NodeRef, ...] = ()
    emails: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()

    def as_record(self) -> dict[str, Any]:
        return {
            "subject": self.subject.as_record(),
            "anchor": self.anchor.as_record(),
            "explicit_links": [link.as_record() for link in self.explicit_links],
            "emails": list(self.emails),
            "domains": list(self.domains),
        }


def identity_hints(
    subject: NodeRef,
    anchor: NodeRef | None = None,
    links: tuple[NodeRef | None, ...] = (),
    emails: tuple[str | None, ...] = (),
    domains: tuple[str | None, ...] = (),
) -> IdentityHints:
    """Hints with absent values dropped and e-mails and domains normalised, in order."""
    normalized_emails = (normalize_email(e) for e in emails)
    normalized_domains = (normalize_domain(d) for d in domains)
    return IdentityHints(
        subject=subject,
        anchor=anchor or subject,
        explicit_links=tuple(dict.fromkeys(link for link in links if link)),
        emails=tuple(dict.fromkeys(e for e in normalized_emails if e)),
        domains=tuple(dict.fromkeys(d for d in normalized_domains if d)),
    )


@dataclass(frozen=True)
class Delivery:
    """Where an input came from: a file line or a webhook request."""

    channel: str
    source_name: str
    position: int

    def as_record(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "source_name": self.source_name,
            "position": self.position,
        }


@dataclass(frozen=True)
class MappedEvent:
    """An adapter's output before delivery metadata and trace context are attached."""

    event_id: str
    event_type: str
    source_system: str
    source_object_id: str
    occurred_at: datetime
    identity: IdentityHints
    payload_schema: str
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def account_key(self) -> str:
        return self.identity.anchor.id

    def as_record(
        self, received_at: datetime, delivery: Delivery | None
    ) -> dict[str, Any]:
        """The BusinessEvent as AvroCodec encodes it (payload as a named union branch)."""
        return {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "source_system": self.source_system,
            "source_object_id": self.source_object_id,
            "occurred_at": self.occurred_at,
            "received_at": received_at,
            "account_key": self.account_key,
            "identity": self.identity.as_record(),
            "trace_context": {},
            "delivery": delivery.as_record() if delivery else None,
            "payload": (self.payload_schema, self.payload),
        }
