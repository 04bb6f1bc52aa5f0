"""The Odoo partner of a canonical account: planned from its profile, or a placeholder.

A record names its account (``canonical_account_id``) and may carry the account's
context. Only a context that describes that very account (not one it was merged into,
not an older id) plans the partner from the profile; otherwise a placeholder partner
stands for the account until its profile arrives. The one-by-one writer, the batch
writer and the reconciler must agree on this, or a replay would see drift that is not
there.
"""

from __future__ import annotations

from typing import Any

from sinks.record_mapping import (
    PARTNER_MODEL,
    RecordPlan,
    account_plan,
    account_xmlid_name,
    placeholder_account_values,
)


def placeholder_account_plan(canonical_id: str) -> RecordPlan:
    """The partner standing for an account known only by its id (version 0, so any
    profile of the account is newer)."""
    return RecordPlan(
        model=PARTNER_MODEL,
        xmlid_name=account_xmlid_name(canonical_id),
        natural_key_field="x_canonical_account_id",
        natural_key=canonical_id,
        version=0,
        values=placeholder_account_values(canonical_id),
    )


def account_partner_plan(
    canonical_id: str, account: dict[str, Any] | None
) -> RecordPlan:
    """The partner of ``canonical_id``: from ``account`` when that context describes
    exactly this account, else a placeholder."""
    if account is not None and account.get("canonical_account_id") == canonical_id:
        return account_plan(account, version=account["revision"])
    return placeholder_account_plan(canonical_id)
