"""The account context: what the processors know about one canonical account.

Two parts:

* ``ProfileFacts`` keeps the latest snapshot of every identifier that describes an
  account (CRM companies and contacts, billing customers, helpdesk users and
  organizations, product users and workspace memberships), newest by ``occurred_at``;
* ``AccountProfiles`` builds the ``AccountContext`` of a component from those facts and
  keeps a revision per account that increases only when the context really changed, so
  an ``account_profile`` record is published once per change.

Store layout: ``fact:<node>`` -> ``{"order": [occurred_at, event_id], "payload": {...}}``,
``members_of_group:<group id>`` -> product user ids, ``groups_of_user:<user id>`` ->
group ids, ``profile:<account id>`` -> the last published context.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from processors.envelope import node_id, node_key, node_kind, payload_of, to_micros
from processors.identity import (
    BILLING_CUSTOMER,
    CRM_COMPANY,
    CRM_CONTACT,
    HELPDESK_ORGANIZATION,
    HELPDESK_USER,
    PRODUCT_GROUP,
    PRODUCT_USER,
)

NO_CRM_MATCH = "no_crm_match"
CRM_REFERENCE_UNRESOLVED = "crm_reference_unresolved"

# Helpdesk staff author replies on customer tickets but are nobody's contact.
STAFF_ROLES = frozenset({"agent", "admin"})

# Payloads that describe an identifier (the event's subject), by payload kind.
_DESCRIBING_PAYLOADS = frozenset(
    {
        "CrmCompany",
        "CrmContact",
        "BillingCustomer",
        "HelpdeskUser",
        "HelpdeskOrganization",
        "ProductUser",
        "ProductGroup",
    }
)


def describes_account(payload_kind: str) -> bool:
    """Whether a payload of this kind can change an account's context."""
    return payload_kind in _DESCRIBING_PAYLOADS


class ProfileFacts:
    """Latest snapshot per describing identifier, plus workspace memberships."""

    def __init__(self, store: MutableMapping[str, Any]) -> None:
        self._store = store

    def record(self, event: Mapping[str, Any]) -> list[str]:
        """Keep what the event says about its subject; return the nodes it touched.

        For an identify call the touched nodes are the user's workspaces, whose
        accounts list the user's e-mail.
        """
        kind, payload = payload_of(event)
        if kind not in _DESCRIBING_PAYLOADS:
            return []
        subject = node_key(event["identity"]["subject"])
        order = [to_micros(event["occurred_at"]), event["event_id"]]
        touched = [subject]

        if kind == "ProductGroup" and payload.get("user_id"):
            group_id, user_id = payload["group_id"], payload["user_id"]
            self._add(f"members_of_group:{group_id}", user_id)
            self._add(f"groups_of_user:{user_id}", group_id)
        if kind == "ProductUser":
            groups = self._store.get(f"groups_of_user:{payload['user_id']}", [])
            touched = [f"{PRODUCT_GROUP}:{g}" for g in groups]

        current = self._store.get(f"fact:{subject}")
        if current is None or list(current["order"]) < order:
            self._store[f"fact:{subject}"] = {"order": order, "payload": payload}
        return touched

    def latest(self, node: str) -> dict[str, Any] | None:
        fact = self._store.get(f"fact:{node}")
        return None if fact is None else dict(fact["payload"])

    def group_members(self, group_id: str) -> list[str]:
        return list(self._store.get(f"members_of_group:{group_id}", []))

    def _add(self, key: str, value: str) -> None:
        current = list(self._store.get(key, []))
        if value not in current:
            self._store[key] = sorted([*current, value])


@dataclass(frozen=True)
class ProfileChange:
    """A context that differs from the last published one."""

    account_id: str
    context: dict[str, Any]


def build_context(
    account_id: str, members: Iterable[str], facts: ProfileFacts
) -> dict[str, Any]:
    """The AccountContext of a component, without its revision."""
    by_kind: dict[str, list[str]] = {}
    for node in sorted(members):
        by_kind.setdefault(node_kind(node), []).append(node)

    companies = [
        (node, fact)
        for node in by_kind.get(CRM_COMPANY, [])
        if (fact := facts.latest(node)) is not None
    ]
    customers = [(n, facts.latest(n)) for n in by_kind.get(BILLING_CUSTOMER, [])]
    flags = []
    if not companies:
        flags.append(NO_CRM_MATCH)
    if len(companies) < len(by_kind.get(CRM_COMPANY, [])):
        flags.append(CRM_REFERENCE_UNRESOLVED)

    # The company created first speaks for the account; its latest row gives the name.
    lead = min(
        companies, key=lambda c: (c[1]["created_at"], node_id(c[0])), default=None
    )
    lead_company = lead[1] if lead else {}
    display_name = lead_company.get("name") or _fallback_name(by_kind, customers, facts)

    return {
        "canonical_account_id": account_id,
        "display_name": display_name,
        "domain": lead_company.get("domain"),
        "country_code": lead_company.get("country_code"),
        "vat_number": lead_company.get("vat_number"),
        "linked_to_crm": bool(companies),
        "flags": sorted(flags),
        "crm_company_ids": sorted(node_id(n) for n, _ in companies),
        "billing_customer_ids": _ids(by_kind, BILLING_CUSTOMER),
        "product_group_ids": _ids(by_kind, PRODUCT_GROUP),
        "helpdesk_organization_ids": _ids(by_kind, HELPDESK_ORGANIZATION),
        "contact_emails": _contact_emails(by_kind, facts),
        "billing_emails": sorted(
            {fact["email"] for _, fact in customers if fact and fact.get("email")}
        ),
    }


def _ids(by_kind: Mapping[str, list[str]], kind: str) -> list[str]:
    return sorted(node_id(n) for n in by_kind.get(kind, []))


def _fallback_name(
    by_kind: Mapping[str, list[str]],
    customers: list[tuple[str, dict[str, Any] | None]],
    facts: ProfileFacts,
) -> str | None:
    # Without a CRM company the billing customer's name is the best business name;
    # a helpdesk organization or workspace name comes after it.
    for _, fact in customers:
        if fact and fact.get("name"):
            return str(fact["name"])
    for kind in (HELPDESK_ORGANIZATION, PRODUCT_GROUP):
        for node in by_kind.get(kind, []):
            fact = facts.latest(node)
            if fact and fact.get("name"):
                return str(fact["name"])
    return None


def _contact_emails(by_kind: Mapping[str, list[str]], facts: ProfileFacts) -> list[str]:
    emails: set[str] = set()
    for node in by_kind.get(CRM_CONTACT, []):
        fact = facts.latest(node)
        if fact and fact.get("email"):
            emails.add(fact["email"])
    # Helpdesk users are in the component either through their organization or, when
    # they have none, through an exact match with a CRM contact's address.
    for node in by_kind.get(HELPDESK_USER, []):
        fact = facts.latest(node)
        if fact and fact.get("email") and fact.get("role") not in STAFF_ROLES:
            emails.add(fact["email"])
    for group in by_kind.get(PRODUCT_GROUP, []):
        for user_id in facts.group_members(node_id(group)):
            fact = facts.latest(f"{PRODUCT_USER}:{user_id}")
            if fact and fact.get("email"):
                emails.add(fact["email"])
    return sorted(emails)


class AccountProfiles:
    """The last published context of every account, with its revision."""

    def __init__(self, store: MutableMapping[str, Any]) -> None:
        self._store = store

    def refresh(self, account_id: str, context: dict[str, Any]) -> ProfileChange | None:
        """Store ``context`` under a new revision if it differs from the published one."""
        current = self._store.get(f"profile:{account_id}")
        if current is not None and _without_revision(current) == context:
            return None
        revision = 1 if current is None else int(current["revision"]) + 1
        published = {**context, "revision": revision}
        self._store[f"profile:{account_id}"] = published
        return ProfileChange(account_id, published)

    def current(self, account_id: str) -> dict[str, Any] | None:
        value = self._store.get(f"profile:{account_id}")
        return None if value is None else dict(value)

    def forget(self, account_id: str) -> None:
        """Drop the profile of an account absorbed into another."""
        if f"profile:{account_id}" in self._store:
            del self._store[f"profile:{account_id}"]


def _without_revision(context: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in context.items() if k != "revision"}
