"""The identity graph: which source identifiers belong to one canonical account.

Nodes are ``<kind>:<id>`` keys (``NodeKind`` values). An account is a connected
component, kept with union-find. Edges come from evidence in the business events:

* ``explicit_link``: a cross-reference the source states outright (Stripe
  ``metadata.crm_company_id``, a workspace's ``crm_company_id``, an organization's
  ``external_id``, a user's organization, a contact's company);
* ``exact_email``: a billing customer's e-mail, or the e-mail of a helpdesk user who has
  no organization, equal to a CRM contact's e-mail joins that contact's company;
* ``company_domain``: a billing customer's e-mail domain (only when no CRM contact has
  its exact address), a workspace's website domain or an organization's domain name
  equal to a CRM company's domain. Free-mail domains never link.

Evidence arrives in any order, so both sides are indexed: company domains and contact
e-mails, and the nodes still waiting for a company with a given domain or a contact with
a given e-mail. When the missing side arrives the waiting nodes are joined.

Product users are not nodes: they reach accounts only through workspace membership.

Canonical ids are stable. A component gets ``acct_<hash of its first node>`` when it is
created; when components join, the survivor is the one published first (then the one
created first), so an id the sink already holds is kept whenever possible.
Store layout (every value JSON): ``parent:<node>`` -> parent node, ``component:<root>``
-> component info, ``account:<id>`` -> root node, ``domain:<d>`` / ``email:<a>`` ->
company nodes, ``waiting_domain:<d>`` / ``waiting_email:<a>`` -> waiting nodes,
``sequence`` -> creation counter.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from processors.envelope import node_key, node_kind, payload_of

logger = logging.getLogger(__name__)

CRM_COMPANY = "crm_company"
CRM_CONTACT = "crm_contact"
BILLING_CUSTOMER = "billing_customer"
PRODUCT_GROUP = "product_group"
PRODUCT_USER = "product_user"
HELPDESK_ORGANIZATION = "helpdesk_organization"
HELPDESK_USER = "helpdesk_user"

# Kinds that make a component an account of its own even with nothing attached to it.
ACCOUNT_FORMING_KINDS = frozenset(
    {CRM_COMPANY, BILLING_CUSTOMER, PRODUCT_GROUP, HELPDESK_ORGANIZATION}
)

EXPLICIT_LINK = "explicit_link"
EXACT_EMAIL = "exact_email"
COMPANY_DOMAIN = "company_domain"


@dataclass(frozen=True)
class AccountMerge:
    """Evidence joined accounts: ``absorbed_ids`` now live on as ``survivor_id``."""

    survivor_id: str
    absorbed_ids: tuple[str, ...]
    reason: str
    # Whether the sink already holds the absorbed account: only then must it be told.
    absorbed_published: bool = False

    def as_payload(self) -> dict[str, Any]:
        return {
            "survivor_id": self.survivor_id,
            "absorbed_ids": list(self.absorbed_ids),
            "reason": self.reason,
        }


@dataclass
class _Component:
    account_id: str
    created: int
    published: int | None = None
    members: list[str] = field(default_factory=list)

    def as_value(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "created": self.created,
            "published": self.published,
            "members": sorted(self.members),
        }

    @classmethod
    def from_value(cls, value: Mapping[str, Any]) -> _Component:
        return cls(
            account_id=value["account_id"],
            created=int(value["created"]),
            published=value["published"],
            members=list(value["members"]),
        )

    def seniority(self) -> tuple[float, int]:
        published = float("inf") if self.published is None else self.published
        return (published, self.created)


def account_id_for(first_node: str) -> str:
    """A short stable id derived from the node that created the component."""
    digest = hashlib.sha256(first_node.encode("utf-8")).hexdigest()
    return f"acct_{digest[:16]}"


class IdentityGraph:
    """Union-find over identifier nodes with the evidence indexes described above."""

    def __init__(
        self, store: MutableMapping[str, Any], free_mail_domains: Iterable[str]
    ) -> None:
        self._store = store
        self._free_mail = frozenset(d.lower() for d in free_mail_domains)

    # -- components -----------------------------------------------------------------

    def ensure_node(self, node: str) -> str:
        """Add ``node`` as its own component if it is new; return its root."""
        if f"parent:{node}" in self._store:
            return self._root(node)
        sequence = int(self._store.get("sequence", 0)) + 1
        self._store["sequence"] = sequence
        self._store[f"parent:{node}"] = node
        component = _Component(account_id_for(node), sequence, None, [node])
        self._save(node, component)
        return node

    def account_id(self, node: str) -> str:
        """The canonical account id of the component holding ``node`` (created if new)."""
        return self._component(self.ensure_node(node)).account_id

    def members(self, account_id: str) -> list[str]:
        root = self._root_of_account(account_id)
        if root is None:
            return []
        return list(self._component(root).members)

    def is_account_forming(self, account_id: str) -> bool:
        return any(
            node_kind(n) in ACCOUNT_FORMING_KINDS for n in self.members(account_id)
        )

    def is_published(self, account_id: str) -> bool:
        root = self._root_of_account(account_id)
        return root is not None and self._component(root).published is not None

    def mark_published(self, account_id: str) -> None:
        """Record that the sink has been told about this account."""
        root = self._root_of_account(account_id)
        if root is None:
            raise KeyError(account_id)
        component = self._component(root)
        if component.published is None:
            sequence = int(self._store.get("sequence", 0)) + 1
            self._store["sequence"] = sequence
            component.published = sequence
            self._save(root, component)

    def current_account_id(self, account_id: str) -> str:
        """The id an account lives on as, following every merge since."""
        root = self._root_of_account(account_id)
        if root is None:
            return account_id
        return self._component(root).account_id

    def _root_of_account(self, account_id: str) -> str | None:
        node = self._store.get(f"account:{account_id}")
        return None if node is None else self._root(node)

    def knows(self, node: str) -> bool:
        return f"parent:{node}" in self._store

    def _root(self, node: str) -> str:
        path = []
        current = node
        parent = self._store[f"parent:{current}"]
        while parent != current:
            path.append(current)
            current = parent
            parent = self._store[f"parent:{current}"]
        # Path compression keeps later look-ups short; each write is re-assigned so a
        # changelog-backed table records it.
        for visited in path[:-1]:
            self._store[f"parent:{visited}"] = current
        return current

    def _component(self, root: str) -> _Component:
        return _Component.from_value(self._store[f"component:{root}"])

    def _save(self, root: str, component: _Component) -> None:
        self._store[f"component:{root}"] = component.as_value()
        self._store[f"account:{component.account_id}"] = root

    def union(self, a: str, b: str, reason: str) -> AccountMerge | None:
        """Join the components of ``a`` and ``b``; say which account absorbed which."""
        root_a, root_b = self.ensure_node(a), self.ensure_node(b)
        if root_a == root_b:
            return None
        comp_a, comp_b = self._component(root_a), self._component(root_b)
        if comp_b.seniority() < comp_a.seniority():
            root_a, root_b, comp_a, comp_b = root_b, root_a, comp_b, comp_a

        # 1. hang the absorbed root under the survivor's root
        self._store[f"parent:{root_b}"] = root_a
        # 2. the survivor's component takes over the absorbed members
        comp_a.members = sorted(set(comp_a.members) | set(comp_b.members))
        if comp_a.published is None:
            comp_a.published = comp_b.published
        self._save(root_a, comp_a)
        # 3. the absorbed component's records go away
        del self._store[f"component:{root_b}"]
        self._store[f"account:{comp_b.account_id}"] = root_a

        logger.info(
            "accounts joined",
            extra={
                "survivor_id": comp_a.account_id,
                "absorbed_id": comp_b.account_id,
                "reason": reason,
            },
        )
        return AccountMerge(
            comp_a.account_id,
            (comp_b.account_id,),
            reason,
            absorbed_published=comp_b.published is not None,
        )

    # -- evidence -------------------------------------------------------------------

    def observe(self, event: Mapping[str, Any]) -> list[AccountMerge]:
        """Add the event's identifiers and every link it is evidence for."""
        identity = event["identity"]
        subject = node_key(identity["subject"])
        anchor = node_key(identity["anchor"])
        links = [node_key(link) for link in identity.get("explicit_links", [])]
        emails = [e for e in identity.get("emails", []) if e]
        domains = [d.lower() for d in identity.get("domains", []) if d]
        kind = node_kind(subject)

        if kind == PRODUCT_USER:
            # Product users only contribute e-mails through workspace membership.
            return []

        merges: list[AccountMerge] = []
        self.ensure_node(subject)
        if node_kind(anchor) != PRODUCT_USER:
            merges += self._joined(subject, [anchor], EXPLICIT_LINK)
        merges += self._joined(subject, links, EXPLICIT_LINK)

        if kind == CRM_COMPANY:
            merges += self._company_domains(subject, domains)
        elif kind == CRM_CONTACT:
            companies = [n for n in [anchor, *links] if node_kind(n) == CRM_COMPANY]
            merges += self._contact_emails(emails, sorted(set(companies)))
        elif kind == BILLING_CUSTOMER:
            merges += self._customer_evidence(subject, emails, domains, links)
        elif kind == HELPDESK_USER:
            has_organization = any(
                node_kind(n) == HELPDESK_ORGANIZATION for n in links
            ) or _payload_organization(event)
            if not has_organization:
                merges += self._exact_email(subject, emails)
        elif kind in (PRODUCT_GROUP, HELPDESK_ORGANIZATION):
            merges += self._domain_match(subject, domains, email=None)
        return merges

    def _joined(
        self, node: str, others: Iterable[str], reason: str
    ) -> list[AccountMerge]:
        merges = []
        for other in others:
            merge = self.union(node, other, reason)
            if merge is not None:
                merges.append(merge)
        return merges

    def _company_domains(self, company: str, domains: list[str]) -> list[AccountMerge]:
        merges: list[AccountMerge] = []
        for domain in domains:
            if domain in self._free_mail:
                continue
            self._add_to_list(f"domain:{domain}", company)
            for waiting in self._store.get(f"waiting_domain:{domain}", []):
                waiting_email = waiting.get("email")
                if waiting_email and self._store.get(f"email:{waiting_email}"):
                    # An exact contact e-mail outranks a domain match.
                    continue
                merges += self._joined(waiting["node"], [company], COMPANY_DOMAIN)
        return merges

    def _contact_emails(
        self, emails: list[str], companies: list[str]
    ) -> list[AccountMerge]:
        merges: list[AccountMerge] = []
        for email in emails:
            for company in companies:
                self._add_to_list(f"email:{email}", company)
            for waiting in self._store.get(f"waiting_email:{email}", []):
                merges += self._joined(waiting, companies, EXACT_EMAIL)
        return merges

    def _exact_email(self, node: str, emails: list[str]) -> list[AccountMerge]:
        merges: list[AccountMerge] = []
        for email in emails:
            self._add_to_list(f"waiting_email:{email}", node)
            merges += self._joined(
                node, self._store.get(f"email:{email}", []), EXACT_EMAIL
            )
        return merges

    def _customer_evidence(
        self, customer: str, emails: list[str], domains: list[str], links: list[str]
    ) -> list[AccountMerge]:
        merges = self._exact_email(customer, emails)
        if any(node_kind(n) == CRM_COMPANY for n in links):
            # The customer names its company outright; its e-mail domain adds nothing.
            return merges
        email = emails[0] if emails else None
        return merges + self._domain_match(customer, domains, email)

    def _domain_match(
        self, node: str, domains: list[str], email: str | None
    ) -> list[AccountMerge]:
        merges: list[AccountMerge] = []
        for domain in domains:
            if domain in self._free_mail:
                continue
            entry = {"node": node, "email": email}
            waiting = list(self._store.get(f"waiting_domain:{domain}", []))
            if entry not in waiting:
                self._store[f"waiting_domain:{domain}"] = [*waiting, entry]
            if email and self._store.get(f"email:{email}"):
                continue
            companies = self._store.get(f"domain:{domain}", [])
            merges += self._joined(node, companies, COMPANY_DOMAIN)
        return merges

    def _add_to_list(self, key: str, value: str) -> None:
        current = list(self._store.get(key, []))
        if value not in current:
            self._store[key] = sorted([*current, value])


def _payload_organization(event: Mapping[str, Any]) -> bool:
    kind, payload = payload_of(event)
    return kind == "HelpdeskUser" and bool(payload.get("organization_id"))
