"""Zendesk-shaped ticket events and user/organization exports mapped to events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from producers.exceptions import PayloadError
from producers.helpdesk import (
    map_organization_export,
    map_ticket_event,
    map_user_export,
)


def _ticket_event(**detail: Any) -> dict[str, Any]:
    ticket = {
        "id": "5001",
        "subject": "Cannot log in",
        "status": "OPEN",
        "priority": "HIGH",
        "organization_id": "9001",
        "requester_id": "7001",
        **detail,
    }
    return {
        "type": "zen:event-type:ticket.status_changed",
        "id": "zev-1",
        "time": "2024-09-25T10:40:11+02:00",
        "subject": "zen:ticket:5001",
        "detail": ticket,
    }


def test_ticket_belongs_to_its_organization() -> None:
    mapped = map_ticket_event(_ticket_event())
    assert mapped.identity.subject.as_record() == {
        "kind": "helpdesk_organization",
        "id": "9001",
    }
    assert mapped.event_type == "ticket.status_changed"
    assert mapped.event_id == "zev-1"
    assert mapped.source_object_id == "5001"
    assert mapped.occurred_at == datetime(2024, 9, 25, 8, 40, 11, tzinfo=UTC)
    assert mapped.payload["status"] == "open"
    assert mapped.payload["priority"] == "high"


def test_ticket_without_organization_belongs_to_its_requester() -> None:
    mapped = map_ticket_event(_ticket_event(organization_id=None, priority=None))
    assert mapped.identity.anchor.as_record() == {"kind": "helpdesk_user", "id": "7001"}
    assert mapped.account_key == "7001"
    assert mapped.payload["priority"] is None


def test_ticket_without_organization_or_requester_is_refused() -> None:
    with pytest.raises(PayloadError):
        map_ticket_event(_ticket_event(organization_id=None, requester_id=None))


def test_user_export_numeric_ids_become_text() -> None:
    user = {
        "id": 382114050101,
        "email": "Felix@Acme.Example",
        "role": "end-user",
        "organization_id": 360081920011,
        "updated_at": "2024-09-20T08:00:00Z",
    }
    mapped = map_user_export(user)
    hints = mapped.identity.as_record()
    assert hints["subject"] == {"kind": "helpdesk_user", "id": "382114050101"}
    assert hints["explicit_links"] == [
        {"kind": "helpdesk_organization", "id": "360081920011"}
    ]
    assert hints["emails"] == ["felix@acme.example"]
    assert mapped.event_id == "helpdesk_user:382114050101:2024-09-20T08:00:00Z"
    assert mapped.payload["organization_id"] == "360081920011"


def test_organization_export_links_external_id_and_domains() -> None:
    organization = {
        "id": 360081920011,
        "name": "Acme",
        "external_id": "18260501121",
        "domain_names": ["Acme.Example", "www.acme.example"],
        "updated_at": "2024-09-16T10:30:00Z",
    }
    mapped = map_organization_export(organization)
    hints = mapped.identity.as_record()
    assert hints["explicit_links"] == [{"kind": "crm_company", "id": "18260501121"}]
    assert hints["domains"] == ["acme.example"]
    assert mapped.account_key == "360081920011"


def test_organization_without_external_id_has_no_link() -> None:
    organization = {
        "id": 1,
        "external_id": None,
        "domain_names": ["acme.example"],
        "updated_at": "2024-09-16T10:30:00Z",
    }
    assert map_organization_export(organization).identity.explicit_links == ()


def test_export_without_updated_at_is_refused() -> None:
    with pytest.raises(PayloadError):
        map_user_export({"id": 1, "email": "a@b.example"})
