"""A Zendesk organization, its end-users and their tickets' event webhooks.

Events of one agent action share a second, a sequence id and one ``detail``: the ticket
as it stood after the whole action, so any event of the last action gives the final
state.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from loadgen.clock import iso_seconds
from loadgen.conventions import (
    AGENTS,
    TICKET_SUBJECTS,
    ZENDESK_ACCOUNT_ID,
    ZENDESK_EVENT_VERSION,
)
from loadgen.identifiers import IdMint
from loadgen.timeline import HELPDESK, TimedEvent

ORG_BASE = 360081900000
USER_BASE = 382114100000
TICKET_BASE = 4000
EVENT_PREFIX = "zen:event-type:ticket."


@dataclass(frozen=True)
class HelpdeskPerson:
    """A customer person known to Zendesk; ``in_org`` says if the export ties them to
    the organization."""

    email: str
    name: str
    in_org: bool


@dataclass
class HelpdeskTruth:
    organization_id: str | None
    user_emails: set[str] = field(default_factory=set)
    tickets: list[dict[str, Any]] = field(default_factory=list)


class ZendeskHistory:
    def __init__(
        self,
        rng: random.Random,
        mint: IdMint,
        *,
        organization: dict[str, Any] | None,
        people: list[HelpdeskPerson],
        start: float,
        end: float,
    ) -> None:
        """``organization`` is None or {"name", "external_id", "domain"}."""
        self._rng = rng
        self._mint = mint
        self._start = start
        self._end = end
        self.events: list[TimedEvent] = []
        self.organization_rows: list[dict[str, Any]] = []
        self.user_rows: list[dict[str, Any]] = []
        org_id = mint.number(ORG_BASE) if organization else None
        self.truth = HelpdeskTruth(str(org_id) if org_id else None)
        if organization and org_id:
            self.organization_rows.append(self._organization_row(org_id, organization))
        self._users: list[tuple[int, str, int | None]] = []
        for person in people:
            user_id = mint.number(USER_BASE)
            user_org = org_id if person.in_org and org_id else None
            self._users.append((user_id, person.name, user_org))
            self.user_rows.append(self._user_row(user_id, person, user_org))
            self.truth.user_emails.add(person.email.strip().lower())

    def _organization_row(
        self, org_id: int, organization: dict[str, Any]
    ) -> dict[str, Any]:
        stamp = iso_seconds(self._start)
        return {
            "id": org_id,
            "url": None,
            "name": organization["name"],
            "external_id": organization["external_id"],
            "domain_names": [organization["domain"]],
            "details": "",
            "notes": "",
            "group_id": None,
            "shared_tickets": False,
            "shared_comments": False,
            "tags": [],
            "created_at": stamp,
            "updated_at": stamp,
            "organization_fields": {},
        }

    def _user_row(
        self, user_id: int, person: HelpdeskPerson, org_id: int | None
    ) -> dict[str, Any]:
        stamp = iso_seconds(self._start)
        return {
            "id": user_id,
            "url": None,
            "name": person.name,
            "email": person.email,
            "role": "end-user",
            "organization_id": org_id,
            "external_id": None,
            "locale": "en-US",
            "time_zone": "UTC",
            "active": True,
            "verified": True,
            "suspended": False,
            "tags": [],
            "created_at": stamp,
            "updated_at": stamp,
        }

    def run(self) -> HelpdeskTruth:
        if not self._users:
            return self.truth
        for _ in range(self._rng.choice((0, 1, 1, 2, 3))):
            self._ticket()
        return self.truth

    def _ticket(self) -> None:
        rng = self._rng
        requester_id, requester_name, requester_org = rng.choice(self._users)
        ticket_id = str(self._mint.number(TICKET_BASE))
        # Without organization_id the ticket reaches its account through the
        # requester's organization or, failing that, the requester's e-mail.
        org_on_ticket = requester_org if requester_org and rng.random() < 0.85 else None
        at = rng.uniform(self._start + 86400, self._end - 5 * 86400)
        subject = rng.choice(TICKET_SUBJECTS)
        ticket: dict[str, Any] = {
            "actor_id": str(requester_id),
            "assignee_id": None,
            "brand_id": "360005521931",
            "created_at": iso_seconds(at),
            "custom_status": None,
            "description": f"{subject}. Details from {requester_name}.",
            "external_id": None,
            "form_id": "360001884472",
            "group_id": "360014700112",
            "id": ticket_id,
            "is_public": True,
            "organization_id": str(org_on_ticket) if org_on_ticket else None,
            "priority": "NORMAL" if rng.random() < 0.7 else None,
            "requester_id": str(requester_id),
            "status": "NEW",
            "subject": subject,
            "submitter_id": str(requester_id),
            "tags": [],
            "type": "QUESTION",
            "updated_at": iso_seconds(at),
            "via": {"channel": "web"},
        }
        self._action(at, ticket, requester_id, [("created", {})])
        agent_id, agent_name, _ = rng.choice(AGENTS)
        at += rng.uniform(600, 7200)
        changes: list[tuple[str, dict[str, Any]]] = [
            ("status_changed", {"status": "OPEN"})
        ]
        if rng.random() < 0.5:
            changes.append(
                (
                    "priority_changed",
                    {"priority": rng.choice(("HIGH", "URGENT", "LOW"))},
                )
            )
        changes.append(
            (
                "comment_added",
                {"_comment": (agent_id, agent_name, "Thanks, we are looking into it.")},
            )
        )
        self._action(at, ticket, agent_id, changes)
        at += rng.uniform(3600, 3 * 86400)
        final = rng.choice(("SOLVED", "SOLVED", "PENDING", "OPEN", "HOLD"))
        if final != "OPEN":
            self._action(at, ticket, agent_id, [("status_changed", {"status": final})])
        self.truth.tickets.append(
            {
                "ticket_id": ticket_id,
                "subject": subject,
                "status": ticket["status"].lower(),
                "priority": ticket["priority"].lower() if ticket["priority"] else None,
                "_organization_id": ticket["organization_id"],
            }
        )

    def _action(
        self,
        at: float,
        ticket: dict[str, Any],
        actor_id: int,
        changes: list[tuple[str, dict[str, Any]]],
    ) -> None:
        previous = {"status": ticket["status"], "priority": ticket["priority"]}
        for _, change in changes:
            ticket.update({k: v for k, v in change.items() if not k.startswith("_")})
        ticket["actor_id"] = str(actor_id)
        ticket["updated_at"] = iso_seconds(at)
        sequence_id = self._mint.hex24()
        for position, (kind, change) in enumerate(changes, start=1):
            event_id = self._mint.uuid4()
            event: dict[str, Any] = {
                "meta": {
                    "sequence": {
                        "id": sequence_id,
                        "position": position,
                        "total": len(changes),
                    }
                }
            }
            if kind == "status_changed":
                event.update(current=ticket["status"], previous=previous["status"])
            elif kind == "priority_changed":
                event.update(current=ticket["priority"], previous=previous["priority"])
            elif kind == "comment_added":
                author_id, author_name, body = change["_comment"]
                event["comment"] = {
                    "id": str(self._mint.number(32481390000000)),
                    "body": body,
                    "is_public": True,
                    "author": {
                        "id": str(author_id),
                        "is_staff": True,
                        "name": author_name,
                    },
                }
            payload = {
                "type": EVENT_PREFIX + kind,
                "account_id": ZENDESK_ACCOUNT_ID,
                "id": event_id,
                "time": iso_seconds(at),
                "zendesk_event_version": ZENDESK_EVENT_VERSION,
                "subject": f"zen:ticket:{ticket['id']}",
                "detail": dict(ticket),
                "event": event,
            }
            self.events.append(TimedEvent(float(int(at)), HELPDESK, event_id, payload))
