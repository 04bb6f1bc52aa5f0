"""One account's whole truth: CRM records, billing, product usage, helpdesk.

The generator decides here which records exist and how they link, keeps identity
unambiguous (unique domains, unique personal addresses), and derives the account's
expected final state from the very snapshots it emits.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from loadgen.conventions import (
    COMPANY_WORDS_A,
    COMPANY_WORDS_B,
    COUNTRIES,
    FIRST_NAMES,
    FREE_MAIL_DOMAIN,
    JOB_TITLES,
    LAST_NAMES,
)
from loadgen.crm_rows import export_time
from loadgen.identifiers import IdMint
from loadgen.segment_history import SegmentHistory, WorkspaceLink
from loadgen.stripe_history import DAY, BillingTruth, CustomerIdentity, StripeHistory
from loadgen.timeline import TimedEvent
from loadgen.zendesk_history import HelpdeskPerson, ZendeskHistory

COMPANY_BASE = 18300000000
CONTACT_BASE = 58200000000


@dataclass
class AccountRecords:
    """Everything one account contributes to the corpus and to the oracle."""

    events: list[TimedEvent] = field(default_factory=list)
    company_rows: list[list[str]] = field(default_factory=list)
    contact_rows: list[list[str]] = field(default_factory=list)
    rejected_company_rows: list[list[str]] = field(default_factory=list)
    rejected_contact_rows: list[list[str]] = field(default_factory=list)
    organization_rows: list[dict[str, Any]] = field(default_factory=list)
    user_rows: list[dict[str, Any]] = field(default_factory=list)
    expected: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Contact:
    contact_id: str
    first: str
    last: str
    email: str | None
    phone: str


def _slug(text: str) -> str:
    plain = text.lower().translate(str.maketrans("óéøåñú", "oeoanu"))
    return "".join(ch if ch.isalnum() else "-" for ch in plain).strip("-")


class AccountBuilder:
    def __init__(
        self,
        rng: random.Random,
        mint: IdMint,
        start: float,
        end: float,
        bad_csv_rate: float,
    ) -> None:
        self._rng = rng
        self._mint = mint
        self._start = start
        self._end = end
        self._bad_csv_rate = bad_csv_rate

    def unlinked(self, index: int) -> AccountRecords:
        """A billing customer nothing else refers to: its own account, not in CRM."""
        rng = self._rng
        name = (
            f"{rng.choice(COMPANY_WORDS_A)} {rng.choice(COMPANY_WORDS_B)} Co. {index}"
        )
        # Either no address at all or a personal free-mail address no contact has.
        email = f"owner.{index}@{FREE_MAIL_DOMAIN}" if rng.random() < 0.5 else None
        identity = CustomerIdentity(
            name, email, {}, rng.choice(("usd", "eur", "gbp")), "en-US"
        )
        joined = self._joined()
        billing = StripeHistory(
            rng, self._mint, identity, int(joined), int(self._end)
        ).run_into()
        records = AccountRecords(events=billing[0])
        truth = billing[1]
        records.expected = {
            "display_name": truth.final_name,
            "domain": None,
            "country": None,
            "vat_number": None,
            "linked_to_crm": False,
            "flags": ["no_crm_match"],
            "crm_company_ids": [],
            "stripe_customer_ids": [truth.customer_id],
            "segment_group_ids": [],
            "zendesk_organization_ids": [],
            "contact_emails": [],
            "billing_emails": _emails([truth.final_email]),
            "contacts": [],
            "subscriptions": truth.subscriptions,
            "invoices": truth.invoices,
            "usage": [],
            "tickets": [],
        }
        return records

    def _joined(self) -> float:
        span = min(20 * DAY, (self._end - self._start) / 4)
        return self._start + self._rng.uniform(0, span)

    def linked(self, index: int) -> AccountRecords:
        rng = self._rng
        records = AccountRecords()
        country = rng.choice(COUNTRIES)
        base_name = f"{rng.choice(COMPANY_WORDS_A)} {rng.choice(COMPANY_WORDS_B)}"
        name = f"{base_name} {country.legal_suffix}"
        if rng.random() < 0.1:
            name = f"{base_name}, {rng.choice(COMPANY_WORDS_A)} & Partners {country.legal_suffix}"
        domain = f"{_slug(base_name)}-{index}.example"
        company_id = str(COMPANY_BASE + index)
        vat = f"EU{index:09d}"
        created = self._start + rng.uniform(0, 2 * DAY)
        joined = self._joined() + 3 * DAY
        renamed_to: str | None = None
        renamed_at: float | None = None
        if rng.random() < 0.12:
            renamed_to = f"{rng.choice(COMPANY_WORDS_A)} {base_name.split()[-1]} {country.legal_suffix}"
            renamed_at = rng.uniform(
                joined + 10 * DAY, max(joined + 11 * DAY, self._end - 5 * DAY)
            )
        company_row = [
            company_id,
            name,
            domain,
            country.name,
            vat,
            export_time(created),
            export_time(created),
        ]
        records.company_rows.append(company_row)
        if renamed_to and renamed_at is not None:
            records.company_rows.append(
                [
                    company_id,
                    renamed_to,
                    domain,
                    country.name,
                    vat,
                    export_time(created),
                    export_time(renamed_at),
                ]
            )
        if rng.random() < self._bad_csv_rate:
            records.rejected_company_rows.append(
                [
                    f"CO-{index}",
                    f"Orphan {base_name} Inc.",
                    f"orphan-{index}.example",
                    "United States",
                    f"EU9{index:08d}",
                    export_time(created),
                    export_time(created),
                ]
            )
        contacts = self._contacts(records, index, company_id, domain, created)
        with_email = [c for c in contacts if c.email]
        contact_emails = {c.email for c in with_email if c.email}
        billing_truth = self._billing(
            records,
            index,
            company_id,
            domain,
            country,
            with_email,
            name,
            renamed_to,
            renamed_at,
            joined,
        )
        segment_ids: list[str] = []
        usage: list[dict[str, Any]] = []
        if rng.random() < 0.85:
            group_id, members, usage = self._product(
                records,
                company_id,
                domain,
                name,
                renamed_to,
                renamed_at,
                with_email,
                joined,
            )
            segment_ids.append(group_id)
            contact_emails |= members
        org_ids, helpdesk_emails, tickets = self._helpdesk(
            records, company_id, domain, name, with_email, joined
        )
        contact_emails |= helpdesk_emails
        records.expected = {
            "display_name": renamed_to or name,
            "domain": domain,
            "country": country.alpha2,
            "vat_number": vat,
            "linked_to_crm": True,
            "flags": [],
            "crm_company_ids": [company_id],
            "stripe_customer_ids": [billing_truth.customer_id] if billing_truth else [],
            "segment_group_ids": segment_ids,
            "zendesk_organization_ids": org_ids,
            "contact_emails": sorted(contact_emails),
            "billing_emails": _emails([billing_truth.final_email])
            if billing_truth
            else [],
            "contacts": [
                {
                    "crm_contact_id": c.contact_id,
                    "name": f"{c.first} {c.last}",
                    "email": c.email,
                    "phone": c.phone,
                }
                for c in contacts
            ],
            "subscriptions": billing_truth.subscriptions if billing_truth else [],
            "invoices": billing_truth.invoices if billing_truth else [],
            "usage": usage,
            "tickets": tickets,
        }
        return records

    def _contacts(
        self,
        records: AccountRecords,
        index: int,
        company_id: str,
        domain: str,
        created: float,
    ) -> list[_Contact]:
        rng = self._rng
        contacts: list[_Contact] = []
        for number in range(rng.randint(1, 4)):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            local = f"{_slug(first)}.{_slug(last.split(',')[0])}"
            roll = rng.random()
            if roll < 0.1:
                email = None
            elif roll < 0.25:
                # A personal address must be unique so an exact match names one person.
                email = f"{local}.{index}.{number}@{FREE_MAIL_DOMAIN}"
            else:
                email = f"{local}.{number}@{domain}"
            contact_id = str(CONTACT_BASE + index * 10 + number)
            phone = f"+1 212-555-01{rng.randint(0, 99):02d}"
            first_seen = created + rng.uniform(60, DAY)
            row = [
                contact_id,
                first,
                last,
                email or "",
                phone,
                company_id,
                export_time(first_seen),
                export_time(first_seen),
            ]
            rows = [row]
            if rng.random() < 0.2:
                phone = f"+1 646-555-01{rng.randint(0, 99):02d}"
                changed = first_seen + rng.uniform(2 * DAY, 40 * DAY)
                later = [
                    contact_id,
                    first,
                    last,
                    email or "",
                    phone,
                    company_id,
                    export_time(first_seen),
                    export_time(changed),
                ]
                rows = [later, row] if rng.random() < 0.25 else [row, later]
            records.contact_rows.extend(rows)
            contacts.append(_Contact(contact_id, first, last, email, phone))
        if rng.random() < self._bad_csv_rate:
            # PostgreSQL cannot store U+0000: the whole row is rejected, so this
            # person never becomes a contact.
            stamp = export_time(created + DAY)
            records.rejected_contact_rows.append(
                [
                    str(CONTACT_BASE + index * 10 + 9),
                    "Ana\x00",
                    "Lopez",
                    f"ana.lopez.{index}@{domain}",
                    "+1 212-555-0199",
                    company_id,
                    stamp,
                    stamp,
                ]
            )
        return contacts

    def _billing(
        self,
        records: AccountRecords,
        index: int,
        company_id: str,
        domain: str,
        country: Any,
        with_email: list[_Contact],
        name: str,
        renamed_to: str | None,
        renamed_at: float | None,
        joined: float,
    ) -> BillingTruth | None:
        rng = self._rng
        if rng.random() >= 0.9:
            return None
        roll = rng.random()
        metadata: dict[str, str] = {}
        if roll < 0.4 or not with_email and roll < 0.75:
            metadata = {"crm_company_id": company_id}
            email: str | None = f"billing@{domain}" if rng.random() < 0.7 else None
        elif roll < 0.65 and with_email:
            free = [
                c for c in with_email if c.email and c.email.endswith(FREE_MAIL_DOMAIN)
            ]
            chosen = free[0] if free else rng.choice(with_email)
            email = chosen.email
        else:
            shouted = ".".join(part.capitalize() for part in domain.split("."))
            email = f"{rng.choice(('AP', 'billing', 'Finance', 'accounts'))}@{shouted}"
        identity = CustomerIdentity(
            name,
            email,
            metadata,
            country.currency,
            country.locale,
            renamed_to,
            int(renamed_at) if renamed_at is not None else None,
        )
        events, truth = StripeHistory(
            rng, self._mint, identity, int(joined), int(self._end)
        ).run_into()
        records.events.extend(events)
        return truth

    def _product(
        self,
        records: AccountRecords,
        company_id: str,
        domain: str,
        name: str,
        renamed_to: str | None,
        renamed_at: float | None,
        with_email: list[_Contact],
        joined: float,
    ) -> tuple[str, set[str], list[dict[str, Any]]]:
        rng = self._rng
        mode = rng.choice(("crm_id_string", "crm_id_number", "website_only"))
        website = rng.choice(
            (f"https://www.{domain.capitalize()}/", f"{domain}", f"http://{domain}/app")
        )
        link = WorkspaceLink(mode, company_id, website, name, renamed_to, renamed_at)
        users: list[tuple[str, str, str]] = []
        for contact in with_email:
            if contact.email and rng.random() < 0.7:
                typed = f" {contact.email} " if rng.random() < 0.2 else contact.email
                users.append(
                    (typed, f"{contact.first} {contact.last}", rng.choice(JOB_TITLES))
                )
        if not users or rng.random() < 0.2:
            users.append(
                (f"product.user@{domain}", "Product User", rng.choice(JOB_TITLES))
            )
        history = SegmentHistory(
            rng, self._mint, link, users, joined - 2 * DAY, self._end
        )
        truth = history.run()
        records.events.extend(history.events)
        usage = [
            {"day": day, "event": event, "count": tally[0], "quantity": tally[1]}
            for (day, event), tally in sorted(truth.usage.items())
        ]
        return truth.group_id, truth.member_emails, usage

    def _helpdesk(
        self,
        records: AccountRecords,
        company_id: str,
        domain: str,
        name: str,
        with_email: list[_Contact],
        joined: float,
    ) -> tuple[list[str], set[str], list[dict[str, Any]]]:
        rng = self._rng
        organization: dict[str, Any] | None = None
        if rng.random() < 0.7:
            organization = {
                "name": name,
                "external_id": company_id if rng.random() < 0.6 else None,
                "domain": domain,
            }
        people: list[HelpdeskPerson] = []
        for contact in with_email:
            if not contact.email or rng.random() < 0.4:
                continue
            personal = contact.email.endswith(FREE_MAIL_DOMAIN)
            in_org = organization is not None and not personal
            shown = contact.email
            if in_org and rng.random() < 0.3:
                shown = contact.email.title()
            people.append(
                HelpdeskPerson(shown, f"{contact.first} {contact.last}", in_org)
            )
        if organization is not None and rng.random() < 0.2:
            people.append(
                HelpdeskPerson(f"support.user@{domain}", "Support User", True)
            )
        history = ZendeskHistory(
            rng,
            self._mint,
            organization=organization,
            people=people,
            start=joined,
            end=self._end,
        )
        truth = history.run()
        records.events.extend(history.events)
        records.organization_rows.extend(history.organization_rows)
        records.user_rows.extend(history.user_rows)
        tickets = sorted(
            (
                {k: v for k, v in t.items() if not k.startswith("_")}
                for t in truth.tickets
            ),
            key=lambda t: int(t["ticket_id"]),
        )
        org_ids = [truth.organization_id] if truth.organization_id else []
        return org_ids, truth.user_emails, tickets


def _emails(addresses: list[str | None]) -> list[str]:
    return sorted({a.strip().lower() for a in addresses if a})
