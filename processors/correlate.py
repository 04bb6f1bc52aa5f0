"""The correlate stage: business events in, account-keyed enriched records out.

For every deduplicated event the ``Correlator``

1. adds the event's identity evidence to the graph (which may join accounts),
2. keeps what the event says about its subject (names, e-mails, memberships),
3. applies the business record it carries, if it is newer than the record's state,
4. re-publishes the context of every account the event changed,

and returns the records to publish, in the order the sink needs them: account profiles
first (a merge survivor must exist before records are re-pointed to it), then merges,
then business records, then notices.

State lives only in the ``MutableMapping`` stores handed in, so plain dicts serve in
tests and Faust tables in the worker. Every value is re-assigned after a change.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from pipeline.settings import ProcessorSettings
from processors.account_profile import (
    AccountProfiles,
    ProfileFacts,
    build_context,
    describes_account,
)
from processors.envelope import (
    node_key,
    node_kind,
    payload_of,
    to_micros,
)
from processors.exceptions import UnsupportedEvent
from processors.identity import PRODUCT_GROUP, PRODUCT_USER, AccountMerge, IdentityGraph
from processors.invoice_payment import ChargeRefunds
from processors.record_versions import (
    Applied,
    NotApplied,
    RecordVersions,
    Replayed,
    invoice_status_rank,
    ordering_key,
)
from processors.usage import BeyondGrace, UsageAggregates

logger = logging.getLogger(__name__)

ENRICHED = "enriched"
# An event routed to the late-events topic: the record is ``{"event_id", "reason"}``
# and the caller publishes the event itself with the reason.
LATE = "late"

# (topic role, Kafka key, record) with topic role ENRICHED or LATE.
Output = tuple[str, str, dict[str, Any]]

# Payloads that only feed identity and account profiles: they publish no record.
_PROFILE_ONLY = frozenset(
    {
        "CrmCompany",
        "BillingCustomer",
        "ProductUser",
        "ProductGroup",
        "HelpdeskUser",
        "HelpdeskOrganization",
    }
)


@dataclass
class CorrelatorStores:
    """The state of the correlate stage, one mapping per concern."""

    identity: MutableMapping[str, Any]
    profiles: MutableMapping[str, Any]
    records: MutableMapping[str, Any]
    usage: MutableMapping[str, Any]

    @classmethod
    def in_memory(cls) -> CorrelatorStores:
        return cls(identity={}, profiles={}, records={}, usage={})


@dataclass(frozen=True)
class _RecordUpdate:
    record_kind: str
    record_id: str
    version: int
    anchor: str
    payload: tuple[str, dict[str, Any]] | None


class Correlator:
    """Turns deduplicated business events into account-keyed enriched records.

    Feeding the same events in any order reaches the same final state once the
    records are applied newest-version-first and merges are followed; only the
    canonical ids chosen (and so which account absorbs which) depend on the order.
    """

    def __init__(
        self,
        stores: CorrelatorStores,
        settings: ProcessorSettings,
    ) -> None:
        self._graph = IdentityGraph(stores.identity, settings.free_mail_domains)
        self._facts = ProfileFacts(stores.profiles)
        self._profiles = AccountProfiles(stores.profiles)
        self._versions = RecordVersions(stores.records)
        self._refunds = ChargeRefunds(stores.records)
        self._usage = UsageAggregates(stores.usage, settings.usage_grace_days)

    def process(self, event: Mapping[str, Any]) -> list[Output]:
        """Apply one business event; return what to publish, in publishing order."""
        kind, payload = payload_of(event)

        # 1. identity evidence
        merges = self._graph.observe(event)
        # 2. facts about the subject
        touched = self._facts.record(event)
        # 3. the business record
        updates, notices = self._record_updates(event, kind, payload)
        # 4. contexts of the accounts this event changed
        record_accounts = {self._graph.account_id(u.anchor) for u in updates}
        may_change = describes_account(kind) or bool(merges)
        profiles = self._changed_profiles(
            event, touched, merges, record_accounts, may_change
        )

        outputs: list[Output] = [*profiles]
        outputs += self._merge_records(event, merges)
        outputs += [self._enriched(event, update) for update in updates]
        outputs += notices
        return outputs

    # -- ordering ---------------------------------------------------------------------

    def ordering_of(self, event: Mapping[str, Any]) -> tuple[Any, ...]:
        """The event's place in its account's order (``record_versions.ordering_key``)."""
        kind, payload = payload_of(event)
        rank = invoice_status_rank(payload.get("status")) if kind == "Invoice" else 0
        return tuple(
            ordering_key(
                to_micros(event["occurred_at"]),
                event["event_type"],
                event["event_id"],
                rank,
            )
        )

    def account_of(self, event: Mapping[str, Any]) -> str:
        """The canonical account the event's anchor belongs to now, or the anchor's
        own node when the graph does not know it yet (read-only)."""
        anchor = node_key(event["identity"]["anchor"])
        if self._graph.knows(anchor):
            return self._graph.account_id(anchor)
        return anchor

    def current_account(self, key: str) -> str:
        """What an ``account_of`` answer given earlier names now: the account of a
        node the graph has learnt since, or the survivor of an account merged since."""
        if self._graph.knows(key):
            return self._graph.account_id(key)
        return self._graph.current_account_id(key)

    def awaits(self, event: Mapping[str, Any]) -> str | None:
        """The record the event cannot be applied before: a payment's invoice."""
        kind, payload = payload_of(event)
        if kind == "Charge" and payload.get("invoice_id"):
            return f"invoice:{payload['invoice_id']}"
        return None

    def knows_record(self, record: str) -> bool:
        return self._versions.current(record) is not None

    # -- business records -----------------------------------------------------------

    def _record_updates(
        self, event: Mapping[str, Any], kind: str, payload: dict[str, Any]
    ) -> tuple[list[_RecordUpdate], list[Output]]:
        if kind in _PROFILE_ONLY:
            return [], []
        anchor = node_key(event["identity"]["anchor"])
        occurred_at = to_micros(event["occurred_at"])
        order = ordering_key(occurred_at, event["event_type"], event["event_id"])

        if kind == "CrmContact":
            return self._snapshot(
                event,
                "contact",
                payload["record_id"],
                order,
                ("pipeline.CrmContact", payload),
                anchor,
            )
        if kind == "Subscription":
            return self._snapshot(
                event,
                "subscription",
                payload["subscription_id"],
                order,
                ("pipeline.Subscription", payload),
                anchor,
            )
        if kind == "Ticket":
            return self._ticket(event, payload, order, anchor)
        if kind == "Invoice":
            return self._invoice(event, payload, occurred_at, anchor)
        if kind == "Charge":
            return self._charge(payload, occurred_at), []
        if kind == "UsageEvent":
            return self._usage_update(event, payload, occurred_at)
        raise UnsupportedEvent(event["event_id"], kind)

    def _snapshot(
        self,
        event: Mapping[str, Any],
        record_kind: str,
        record_id: str,
        order: list[Any],
        payload: tuple[str, dict[str, Any]],
        anchor: str,
        status_rank: int = 0,
    ) -> tuple[list[_RecordUpdate], list[Output]]:
        full_name, body = payload
        decision = self._versions.offer(
            f"{record_kind}:{record_id}", order, body, anchor, status_rank
        )
        if isinstance(decision, NotApplied):
            # The late policy of snapshots: applied when newer than the record's state,
            # otherwise the event goes to the late-events topic with the reason.
            logger.info(
                "late snapshot not applied, routed to the late-events topic",
                extra={"event_id": event["event_id"], "record_kind": record_kind},
            )
            late = {"event_id": event["event_id"], "reason": decision.reason}
            return [], [(LATE, event["event_id"], late)]
        assert isinstance(decision, Applied | Replayed)
        update = _RecordUpdate(
            record_kind,
            record_id,
            decision.version,
            decision.anchor,
            (full_name, decision.state),
        )
        return [update], []

    def _ticket(
        self,
        event: Mapping[str, Any],
        ticket: dict[str, Any],
        order: list[Any],
        anchor: str,
    ) -> tuple[list[_RecordUpdate], list[Output]]:
        current = self._versions.current(f"ticket:{ticket['ticket_id']}")
        state = {
            **ticket,
            "status": (ticket.get("status") or "").lower() or None,
            "priority": (ticket.get("priority") or "").lower() or None,
        }
        if not state.get("subject") and current is not None:
            # Some ticket events carry no subject; the last one known still holds.
            state["subject"] = current["state"].get("subject")
        return self._snapshot(
            event,
            "ticket",
            ticket["ticket_id"],
            order,
            ("pipeline.Ticket", state),
            anchor,
        )

    def _invoice(
        self,
        event: Mapping[str, Any],
        invoice: dict[str, Any],
        occurred_at: int,
        anchor: str,
    ) -> tuple[list[_RecordUpdate], list[Output]]:
        rank = invoice_status_rank(invoice.get("status"))
        order = ordering_key(occurred_at, event["event_type"], event["event_id"], rank)
        state = self._refunds.with_payment_state(invoice)
        return self._snapshot(
            event,
            "invoice",
            invoice["invoice_id"],
            order,
            ("pipeline.Invoice", state),
            anchor,
            rank,
        )

    def _charge(self, charge: dict[str, Any], occurred_at: int) -> list[_RecordUpdate]:
        if not self._refunds.record(charge):
            return []
        record = f"invoice:{charge['invoice_id']}"
        current = self._versions.current(record)
        if current is None:
            # The invoice is not known yet; it picks the refund up when it arrives.
            return []
        state = self._refunds.with_payment_state(current["state"])
        applied = self._versions.republish(record, state, occurred_at)
        return [
            _RecordUpdate(
                "invoice",
                charge["invoice_id"],
                applied.version,
                applied.anchor,
                ("pipeline.Invoice", applied.state),
            )
        ]

    def _usage_update(
        self, event: Mapping[str, Any], usage: dict[str, Any], occurred_at: int
    ) -> tuple[list[_RecordUpdate], list[Output]]:
        group_id = usage.get("group_id")
        if not group_id:
            logger.warning(
                "track call without a workspace is not counted",
                extra={"event_id": event["event_id"]},
            )
            return [], []
        totals = self._usage.count(
            group_id,
            usage["event_name"],
            occurred_at,
            usage["message_id"],
            int(usage["quantity"]),
            received_at=to_micros(event["received_at"]),
        )
        if isinstance(totals, BeyondGrace):
            logger.info(
                "usage call beyond the grace routed to the late-events topic",
                extra={"event_id": event["event_id"], "record_id": totals.record_id},
            )
            late = {"event_id": event["event_id"], "reason": totals.reason}
            return [], [(LATE, event["event_id"], late)]
        update = _RecordUpdate(
            "usage_daily",
            totals.record_id,
            totals.version,
            f"{PRODUCT_GROUP}:{group_id}",
            ("pipeline.UsageDaily", totals.as_payload()),
        )
        return [update], []

    # -- accounts -------------------------------------------------------------------

    def _changed_profiles(
        self,
        event: Mapping[str, Any],
        touched: list[str],
        merges: list[AccountMerge],
        record_accounts: set[str],
        may_change: bool,
    ) -> list[Output]:
        """Publish the context of every account the event touched that changed.

        Only events that describe an account or join accounts can change a context
        that is already published; for the rest (the bulk: usage, invoices, tickets)
        only accounts the sink has never seen are published.
        """
        identity = event["identity"]
        nodes = [
            node_key(identity["subject"]),
            node_key(identity["anchor"]),
            *(node_key(link) for link in identity.get("explicit_links", [])),
            *touched,
        ]
        candidates = [
            self._graph.account_id(n)
            for n in nodes
            if node_kind(n) != PRODUCT_USER and self._graph.knows(n)
        ]
        candidates += [m.survivor_id for m in merges]
        candidates += sorted(record_accounts)

        outputs: list[Output] = []
        for account_id in dict.fromkeys(
            self._graph.current_account_id(a) for a in candidates
        ):
            published = self._graph.is_published(account_id)
            if published and not may_change:
                continue
            must_publish = (
                published
                or account_id in record_accounts
                or self._graph.is_account_forming(account_id)
            )
            if not must_publish:
                continue
            context = build_context(
                account_id, self._graph.members(account_id), self._facts
            )
            change = self._profiles.refresh(account_id, context)
            self._graph.mark_published(account_id)
            if change is None:
                continue
            outputs.append(self._profile_record(event, change.context))
        return outputs

    def _profile_record(
        self, event: Mapping[str, Any], context: dict[str, Any]
    ) -> Output:
        account_id = context["canonical_account_id"]
        record = self._envelope(
            event,
            account_id,
            "account_profile",
            account_id,
            int(context["revision"]),
            None,
        )
        return (ENRICHED, account_id, record)

    def _merge_records(
        self, event: Mapping[str, Any], merges: list[AccountMerge]
    ) -> list[Output]:
        outputs: list[Output] = []
        for merge in merges:
            survivor = self._graph.current_account_id(merge.survivor_id)
            for absorbed in merge.absorbed_ids:
                self._profiles.forget(absorbed)
                if not merge.absorbed_published:
                    continue
                payload = AccountMerge(survivor, (absorbed,), merge.reason).as_payload()
                record = self._envelope(
                    event,
                    survivor,
                    "account_merge",
                    absorbed,
                    to_micros(event["occurred_at"]),
                    ("pipeline.AccountMerge", payload),
                )
                outputs.append((ENRICHED, absorbed, record))
        return outputs

    def _enriched(self, event: Mapping[str, Any], update: _RecordUpdate) -> Output:
        account_id = self._graph.account_id(update.anchor)
        record = self._envelope(
            event,
            account_id,
            update.record_kind,
            update.record_id,
            update.version,
            update.payload,
        )
        return (ENRICHED, account_id, record)

    def _envelope(
        self,
        event: Mapping[str, Any],
        account_id: str,
        record_kind: str,
        record_id: str,
        version: int,
        payload: tuple[str, dict[str, Any]] | None,
    ) -> dict[str, Any]:
        context = self._profiles.current(account_id)
        if context is None:
            context = {
                **build_context(
                    account_id, self._graph.members(account_id), self._facts
                ),
                "revision": 0,
            }
        return {
            "canonical_account_id": account_id,
            "record_kind": record_kind,
            "record_id": record_id,
            "version": version,
            "event_id": event["event_id"],
            "event_type": event["event_type"],
            "source_system": event["source_system"],
            "occurred_at": to_micros(event["occurred_at"]),
            "account": context,
            "trace_context": dict(event.get("trace_context") or {}),
            "payload": payload,
        }
