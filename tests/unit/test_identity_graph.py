"""The identity graph: which evidence joins identifiers into one account."""

from __future__ import annotations

from typing import Any

from processors.identity import (
    COMPANY_DOMAIN,
    EXACT_EMAIL,
    EXPLICIT_LINK,
    AccountMerge,
    IdentityGraph,
    account_id_for,
)

FREE_MAIL = ["freemail.example"]


def node(key: str) -> dict[str, str]:
    kind, value = key.split(":", 1)
    return {"kind": kind, "id": value}


def evidence(
    subject: str,
    anchor: str | None = None,
    links: tuple[str, ...] = (),
    emails: tuple[str, ...] = (),
    domains: tuple[str, ...] = (),
    payload: tuple[str, dict[str, Any]] = ("pipeline.BillingCustomer", {}),
) -> dict[str, Any]:
    return {
        "identity": {
            "subject": node(subject),
            "anchor": node(anchor or subject),
            "explicit_links": [node(link) for link in links],
            "emails": list(emails),
            "domains": list(domains),
        },
        "payload": payload,
    }


def company(record_id: str, domain: str) -> dict[str, Any]:
    return evidence(f"crm_company:{record_id}", domains=(domain,))


def contact(record_id: str, company_id: str, email: str) -> dict[str, Any]:
    return evidence(
        f"crm_contact:{record_id}",
        anchor=f"crm_company:{company_id}",
        links=(f"crm_company:{company_id}",),
        emails=(email,),
    )


def customer(
    customer_id: str, email: str | None = None, crm_company_id: str | None = None
) -> dict[str, Any]:
    domain = email.split("@", 1)[1] if email else None
    return evidence(
        f"billing_customer:{customer_id}",
        links=(f"crm_company:{crm_company_id}",) if crm_company_id else (),
        emails=(email,) if email else (),
        domains=(domain,) if domain else (),
    )


def same_account(graph: IdentityGraph, a: str, b: str) -> bool:
    return graph.account_id(a) == graph.account_id(b)


def test_explicit_link_joins_customer_to_company() -> None:
    graph = IdentityGraph({}, FREE_MAIL)
    graph.observe(company("1", "acme.example"))

    merges = graph.observe(customer("cus_1", crm_company_id="1"))

    assert same_account(graph, "billing_customer:cus_1", "crm_company:1")
    assert [m.reason for m in merges] == [EXPLICIT_LINK]


def test_exact_contact_email_joins_customer_to_the_contacts_company() -> None:
    graph = IdentityGraph({}, FREE_MAIL)
    graph.observe(company("1", "acme.example"))
    graph.observe(company("2", "other.example"))
    graph.observe(contact("c1", "2", "pat@acme.example"))

    merges = graph.observe(customer("cus_1", email="pat@acme.example"))

    # The exact address outranks the domain, which points at company 1.
    assert same_account(graph, "billing_customer:cus_1", "crm_company:2")
    assert not same_account(graph, "billing_customer:cus_1", "crm_company:1")
    assert [m.reason for m in merges] == [EXACT_EMAIL]


def test_email_domain_joins_customer_when_no_contact_has_the_address() -> None:
    graph = IdentityGraph({}, FREE_MAIL)
    graph.observe(company("1", "acme.example"))

    merges = graph.observe(customer("cus_1", email="ap@acme.example"))

    assert same_account(graph, "billing_customer:cus_1", "crm_company:1")
    assert [m.reason for m in merges] == [COMPANY_DOMAIN]


def test_free_mail_domain_never_links() -> None:
    graph = IdentityGraph({}, FREE_MAIL)
    graph.observe(company("1", "freemail.example"))
    graph.observe(company("2", "acme.example"))
    graph.observe(contact("c1", "2", "someone@freemail.example"))

    merges = graph.observe(customer("cus_1", email="other@freemail.example"))

    assert merges == []
    assert not same_account(graph, "billing_customer:cus_1", "crm_company:1")
    assert not same_account(graph, "billing_customer:cus_1", "crm_company:2")


def test_exact_free_mail_address_of_a_contact_still_links() -> None:
    graph = IdentityGraph({}, FREE_MAIL)
    graph.observe(contact("c1", "2", "pat@freemail.example"))
    user = evidence(
        "helpdesk_user:7",
        emails=("pat@freemail.example",),
        payload=("pipeline.HelpdeskUser", {"organization_id": None}),
    )

    graph.observe(user)

    assert same_account(graph, "helpdesk_user:7", "crm_company:2")


def test_helpdesk_user_with_an_organization_does_not_link_by_email() -> None:
    graph = IdentityGraph({}, FREE_MAIL)
    graph.observe(contact("c1", "2", "pat@acme.example"))
    user = evidence(
        "helpdesk_user:7",
        links=("helpdesk_organization:9",),
        emails=("pat@acme.example",),
        payload=("pipeline.HelpdeskUser", {"organization_id": "9"}),
    )

    graph.observe(user)

    assert same_account(graph, "helpdesk_user:7", "helpdesk_organization:9")
    assert not same_account(graph, "helpdesk_user:7", "crm_company:2")


def test_evidence_in_reverse_order_still_links() -> None:
    graph = IdentityGraph({}, FREE_MAIL)
    workspace = evidence(
        "product_group:ws_1",
        domains=("acme.example",),
        payload=("pipeline.ProductGroup", {}),
    )
    requester = evidence(
        "helpdesk_user:7",
        emails=("pat@acme.example",),
        payload=("pipeline.HelpdeskUser", {"organization_id": None}),
    )
    graph.observe(customer("cus_1", email="ap@acme.example"))
    graph.observe(workspace)
    graph.observe(requester)

    graph.observe(company("1", "acme.example"))
    graph.observe(contact("c1", "1", "pat@acme.example"))

    for other in ("billing_customer:cus_1", "product_group:ws_1", "helpdesk_user:7"):
        assert same_account(graph, other, "crm_company:1")


def test_waiting_customer_with_a_contacts_address_does_not_take_a_domain_link() -> None:
    graph = IdentityGraph({}, FREE_MAIL)
    graph.observe(customer("cus_1", email="pat@acme.example"))
    graph.observe(contact("c1", "2", "pat@acme.example"))

    graph.observe(company("1", "acme.example"))

    assert same_account(graph, "billing_customer:cus_1", "crm_company:2")
    assert not same_account(graph, "billing_customer:cus_1", "crm_company:1")


def test_product_users_are_not_nodes() -> None:
    graph = IdentityGraph({}, FREE_MAIL)

    merges = graph.observe(
        evidence(
            "product_user:u1",
            emails=("pat@acme.example",),
            payload=("pipeline.ProductUser", {}),
        )
    )

    assert merges == []
    assert not graph.knows("product_user:u1")


def test_join_keeps_the_older_account_id_and_reports_the_merge() -> None:
    graph = IdentityGraph({}, FREE_MAIL)
    graph.observe(customer("cus_1"))
    graph.observe(company("1", "acme.example"))
    older = graph.account_id("billing_customer:cus_1")
    younger = graph.account_id("crm_company:1")

    merges = graph.observe(customer("cus_1", crm_company_id="1"))

    assert older == account_id_for("billing_customer:cus_1")
    assert merges == [AccountMerge(older, (younger,), EXPLICIT_LINK)]
    assert graph.account_id("crm_company:1") == older
    assert graph.current_account_id(younger) == older
    assert sorted(graph.members(older)) == ["billing_customer:cus_1", "crm_company:1"]


def test_published_account_survives_a_join_with_an_older_unpublished_one() -> None:
    graph = IdentityGraph({}, FREE_MAIL)
    graph.observe(evidence("helpdesk_user:7", payload=("pipeline.HelpdeskUser", {})))
    graph.observe(company("1", "acme.example"))
    published = graph.account_id("crm_company:1")
    graph.mark_published(published)

    merges = graph.observe(contact("c1", "1", "pat@acme.example"))
    merges += graph.observe(
        evidence(
            "helpdesk_user:7",
            emails=("pat@acme.example",),
            payload=("pipeline.HelpdeskUser", {}),
        )
    )

    assert graph.account_id("helpdesk_user:7") == published
    assert [m.absorbed_published for m in merges] == [False, False]


def test_state_is_plain_json() -> None:
    import json

    store: dict[str, Any] = {}
    graph = IdentityGraph(store, FREE_MAIL)
    graph.observe(company("1", "acme.example"))
    graph.observe(customer("cus_1", email="ap@acme.example"))

    assert json.loads(json.dumps(store)) == store
