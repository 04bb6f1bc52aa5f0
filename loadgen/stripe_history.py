"""A Stripe customer's life: signup, renewals, seat and plan changes, failures, refunds.

Every object's events get strictly increasing ``created`` seconds, so "the snapshot with
the latest ``created``" is always one well-defined snapshot, and the last snapshot this
module builds for an object is its true final state.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from loadgen.conventions import PRICES, Price
from loadgen.identifiers import IdMint
from loadgen.stripe_payloads import (
    charge_object,
    customer_object,
    event_envelope,
    invoice_line,
    invoice_object,
    seat_description,
    subscription_object,
)
from loadgen.timeline import BILLING, TimedEvent

DAY = 86400
PERIOD = 30 * DAY


@dataclass(frozen=True)
class CustomerIdentity:
    """Who the Stripe customer is and how (if at all) it points at the CRM."""

    name: str
    email: str | None
    metadata: dict[str, str]
    currency: str
    locale: str
    renamed_to: str | None = None
    renamed_at: int | None = None


@dataclass
class BillingTruth:
    """Final state of one customer's billing objects, in the oracle's terms."""

    customer_id: str
    final_email: str | None
    final_name: str | None
    subscriptions: list[dict[str, Any]] = field(default_factory=list)
    invoices: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Subscription:
    subscription_id: str
    item_id: str
    price: Price
    quantity: int
    status: str
    created: int
    period_start: int
    period_end: int
    collection_method: str
    latest_invoice: str | None = None
    cancel_at_period_end: bool = False
    canceled_at: int | None = None
    ended_at: int | None = None
    trial_start: int | None = None
    trial_end: int | None = None


@dataclass
class _InvoiceFacts:
    invoice_id: str
    number: str | None
    subscription_id: str
    total: int
    amount_paid: int
    status: str
    currency: str
    charge_id: str | None
    charge_amount: int = 0
    refunded: int = 0
    paid_at: int | None = None


class StripeHistory:
    """Builds one customer's events in time order and keeps their final state."""

    def __init__(
        self,
        rng: random.Random,
        mint: IdMint,
        identity: CustomerIdentity,
        start: int,
        end: int,
    ) -> None:
        self._rng = rng
        self._mint = mint
        self._identity = identity
        self._start = start
        self._end = end
        self.events: list[TimedEvent] = []
        self._customer_id = mint.stripe("cus", 14)
        self._invoice_prefix = mint.invoice_prefix()
        self._payment_method = mint.stripe("pm", 24)
        self._name = identity.name
        self._email = identity.email
        self._invoice_seq = 0
        self._invoices: dict[str, _InvoiceFacts] = {}
        self._subscription: _Subscription | None = None
        self._last_created: dict[str, int] = {}

    # -- snapshots -----------------------------------------------------------------

    def _customer(self, created_currency: str | None) -> dict[str, Any]:
        return customer_object(
            self._customer_id,
            name=self._name,
            email=self._email,
            metadata=dict(self._identity.metadata),
            invoice_prefix=self._invoice_prefix,
            created=self._start,
            currency=created_currency,
            payment_method=self._payment_method,
            locale=self._identity.locale,
        )

    def _sub_snapshot(self, sub: _Subscription) -> dict[str, Any]:
        return subscription_object(
            sub.subscription_id,
            customer_id=self._customer_id,
            item_id=sub.item_id,
            price=sub.price,
            quantity=sub.quantity,
            status=sub.status,
            created=sub.created,
            period_start=sub.period_start,
            period_end=sub.period_end,
            collection_method=sub.collection_method,
            latest_invoice=sub.latest_invoice,
            cancel_at_period_end=sub.cancel_at_period_end,
            canceled_at=sub.canceled_at,
            ended_at=sub.ended_at,
            trial_start=sub.trial_start,
            trial_end=sub.trial_end,
        )

    def _emit(
        self,
        created: int,
        event_type: str,
        snapshot: dict[str, Any],
        previous: dict[str, Any] | None = None,
    ) -> None:
        # Two events of one object must never share a second, or "latest created"
        # would not name one snapshot.
        object_id = snapshot["id"]
        created = max(created, self._last_created.get(object_id, created - 1) + 1)
        self._last_created[object_id] = created
        event_id = self._mint.stripe("evt", 24)
        with_request = not event_type.startswith("invoice.")
        envelope = event_envelope(
            event_id,
            event_type=event_type,
            created=created,
            snapshot=snapshot,
            previous_attributes=previous,
            request_id=self._mint.short("req") if with_request else None,
            idempotency_key=self._mint.uuid4() if with_request else None,
        )
        self.events.append(TimedEvent(float(created), BILLING, event_id, envelope))

    # -- the life ------------------------------------------------------------------

    def run_into(self) -> tuple[list[TimedEvent], BillingTruth]:
        """The customer's events (in no particular order) and its final state."""
        truth = self.run()
        return self.events, truth

    def run(self) -> BillingTruth:
        rng = self._rng
        self._emit(self._start, "customer.created", self._customer(None))
        plan = "Growth" if rng.random() < 0.35 else "Starter"
        price = PRICES[(plan, self._identity.currency)]
        collection = "send_invoice" if rng.random() < 0.15 else "charge_automatically"
        trial = collection == "charge_automatically" and rng.random() < 0.15
        self._open_subscription(
            self._start + 3, price, rng.randint(1, 15), collection, trial
        )
        self._live_until_end()
        return self._truth()

    def _open_subscription(
        self, at: int, price: Price, quantity: int, collection: str, trial: bool
    ) -> None:
        sub = _Subscription(
            subscription_id=self._mint.stripe("sub", 24),
            item_id=self._mint.short("si"),
            price=price,
            quantity=quantity,
            status="trialing" if trial else "active",
            created=at,
            period_start=at,
            period_end=at + (14 * DAY if trial else PERIOD),
            collection_method=collection,
            trial_start=at if trial else None,
            trial_end=at + 14 * DAY if trial else None,
        )
        self._subscription = sub
        invoice_id = self._mint.stripe("in", 24)
        sub.latest_invoice = invoice_id
        self._emit(at, "customer.subscription.created", self._sub_snapshot(sub))
        if trial:
            line = self._line(
                0,
                price,
                quantity,
                f"Trial period for Tallyframe {price.plan}",
                False,
                sub,
            )
        else:
            line = self._line(
                price.unit_amount * quantity,
                price,
                quantity,
                seat_description(quantity, price),
                False,
                sub,
            )
        self._issue_invoice(invoice_id, at + 1, [line], "subscription_create", "paid")

    def _line(
        self,
        amount: int,
        price: Price,
        quantity: int,
        description: str,
        proration: bool,
        sub: _Subscription,
    ) -> dict[str, Any]:
        return invoice_line(
            self._mint.stripe("il", 24),
            amount=amount,
            price=price,
            quantity=quantity,
            description=description,
            proration=proration,
            period=(sub.period_start, sub.period_end),
            subscription_id=sub.subscription_id,
            item_id=sub.item_id,
        )

    def _live_until_end(self) -> None:
        rng = self._rng
        sub = self._subscription
        assert sub is not None
        quick_change = rng.random() < 0.05
        if quick_change:
            # A seat change seconds after signup, without proration.
            self._change_seats(
                sub.created + rng.randint(20, 90), sub.quantity + 2, prorate=False
            )
        renamed = False
        while True:
            if sub.status == "past_due":
                return
            cycle_start, cycle_end = sub.period_start, sub.period_end
            if cycle_end > self._end:
                self._mid_cycle(cycle_start, min(cycle_end, self._end), renamed)
                return
            renamed = self._mid_cycle(cycle_start, cycle_end, renamed) or renamed
            if sub.cancel_at_period_end:
                sub.status = "canceled"
                sub.ended_at = cycle_end
                self._emit(
                    cycle_end, "customer.subscription.deleted", self._sub_snapshot(sub)
                )
                return
            self._renew(cycle_end)

    def _mid_cycle(self, cycle_start: int, cycle_end: int, renamed: bool) -> bool:
        """At most one change inside a billing period; True if the customer was renamed."""
        rng = self._rng
        sub = self._subscription
        assert sub is not None
        window = (cycle_start + 5 * DAY, cycle_end - 3 * DAY)
        if window[1] <= window[0]:
            return False
        at = rng.randint(*window)
        identity = self._identity
        renamed_at = identity.renamed_at
        if (
            not renamed
            and identity.renamed_to is not None
            and renamed_at is not None
            and cycle_start <= renamed_at < cycle_end
        ):
            previous = self._name
            self._name = identity.renamed_to
            self._emit(
                max(renamed_at, cycle_start + 10),
                "customer.updated",
                self._customer(identity.currency),
                {"name": previous},
            )
            return True
        self._maybe_refund(at - 2 * DAY)
        roll = rng.random()
        if sub.status == "trialing":
            return False
        if roll < 0.22:
            delta = rng.choice((-2, -1, 1, 2, 3))
            self._change_seats(
                at, max(1, sub.quantity + delta), prorate=rng.random() < 0.6
            )
        elif roll < 0.28 and sub.price.plan == "Starter":
            self._upgrade(at)
        elif roll < 0.33:
            sub.cancel_at_period_end = True
            sub.canceled_at = at
            self._emit(
                at,
                "customer.subscription.updated",
                self._sub_snapshot(sub),
                {"cancel_at_period_end": False, "canceled_at": None},
            )
        return False

    def _change_seats(self, at: int, quantity: int, prorate: bool) -> None:
        sub = self._subscription
        assert sub is not None
        old = sub.quantity
        if quantity == old:
            quantity = old + 1
        sub.quantity = quantity
        self._emit(
            at,
            "customer.subscription.updated",
            self._sub_snapshot(sub),
            {"quantity": old},
        )
        if prorate:
            self._prorate(at, sub.price, old, sub.price, quantity)

    def _upgrade(self, at: int) -> None:
        sub = self._subscription
        assert sub is not None
        old_price = sub.price
        sub.price = PRICES[("Growth", old_price.currency)]
        self._emit(
            at,
            "customer.subscription.updated",
            self._sub_snapshot(sub),
            {"plan": {"id": old_price.price_id, "amount": old_price.unit_amount}},
        )
        self._prorate(at, old_price, sub.quantity, sub.price, sub.quantity)

    def _prorate(
        self, at: int, old: Price, old_qty: int, new: Price, new_qty: int
    ) -> None:
        sub = self._subscription
        assert sub is not None
        share = (sub.period_end - at) / (sub.period_end - sub.period_start)
        credit = -round(old.unit_amount * old_qty * share)
        charge = round(new.unit_amount * new_qty * share)
        lines = [
            self._line(
                credit,
                old,
                old_qty,
                f"Unused time on {old_qty} × Tallyframe {old.plan}",
                True,
                sub,
            ),
            self._line(
                charge,
                new,
                new_qty,
                f"Remaining time on {new_qty} × Tallyframe {new.plan}",
                True,
                sub,
            ),
        ]
        invoice_id = self._mint.stripe("in", 24)
        sub.latest_invoice = invoice_id
        self._issue_invoice(invoice_id, at + 1, lines, "subscription_update", "paid")

    def _renew(self, at: int) -> None:
        rng = self._rng
        sub = self._subscription
        assert sub is not None
        previous = {
            "current_period_start": sub.period_start,
            "current_period_end": sub.period_end,
        }
        if sub.status == "trialing":
            previous["status"] = "trialing"
            sub.status = "active"
        sub.period_start, sub.period_end = at, at + PERIOD
        invoice_id = self._mint.stripe("in", 24)
        sub.latest_invoice = invoice_id
        self._emit(
            at, "customer.subscription.updated", self._sub_snapshot(sub), previous
        )
        line = self._line(
            sub.price.unit_amount * sub.quantity,
            sub.price,
            sub.quantity,
            seat_description(sub.quantity, sub.price),
            False,
            sub,
        )
        roll = rng.random()
        outcome = "paid"
        if sub.collection_method == "charge_automatically":
            if roll < 0.06:
                outcome = "fail_recover"
            elif roll < 0.09:
                outcome = "fail_forever"
        self._issue_invoice(invoice_id, at + 1, [line], "subscription_cycle", outcome)

    def _issue_invoice(
        self,
        invoice_id: str,
        at: int,
        lines: list[dict[str, Any]],
        reason: str,
        outcome: str,
    ) -> None:
        sub = self._subscription
        assert sub is not None
        self._invoice_seq += 1
        number = f"{self._invoice_prefix}-{self._invoice_seq:04d}"
        total = sum(line["amount"] for line in lines)
        due = max(total, 0)
        facts = _InvoiceFacts(
            invoice_id,
            None,
            sub.subscription_id,
            total,
            0,
            "draft",
            sub.price.currency,
            None,
        )
        self._invoices[invoice_id] = facts
        payment_intent = self._mint.stripe("pi", 24)
        state: dict[str, Any] = {
            "status": "draft",
            "number": None,
            "amount_paid": 0,
            "attempts": 0,
            "charge": None,
            "intent": None,
            "finalized_at": None,
            "paid_at": None,
        }

        def snapshot() -> dict[str, Any]:
            return invoice_object(
                invoice_id,
                customer_id=self._customer_id,
                customer_email=self._email,
                customer_name=self._name,
                subscription_id=sub.subscription_id,
                currency=sub.price.currency,
                lines=lines,
                created=at,
                period=(sub.period_start, sub.period_end),
                billing_reason=reason,
                collection_method=sub.collection_method,
                status=state["status"],
                number=state["number"],
                amount_paid=state["amount_paid"],
                attempt_count=state["attempts"],
                charge=state["charge"],
                payment_intent=state["intent"],
                finalized_at=state["finalized_at"],
                paid_at=state["paid_at"],
            )

        self._emit(at, "invoice.created", snapshot())
        state.update(
            status="open", number=number, finalized_at=at + 1, intent=payment_intent
        )
        facts.number, facts.status = number, "open"
        self._emit(at + 1, "invoice.finalized", snapshot())

        def pay(paid_at: int) -> None:
            state["attempts"] += 1
            if due > 0:
                state["charge"] = self._mint.stripe("ch", 24)
                facts.charge_id, facts.charge_amount = state["charge"], due
            state.update(status="paid", amount_paid=due, paid_at=paid_at)
            facts.status, facts.amount_paid, facts.paid_at = "paid", due, paid_at
            self._emit(paid_at, "invoice.paid", snapshot())

        if sub.collection_method == "send_invoice" and due > 0:
            paid_at = at + self._rng.randint(3 * DAY, 25 * DAY)
            if paid_at < self._end:
                pay(paid_at)
            return
        if due == 0 or outcome == "paid":
            pay(at + 3)
            return
        state["attempts"] += 1
        self._emit(at + 3, "invoice.payment_failed", snapshot())
        sub.status = "past_due"
        self._emit(
            at + 4,
            "customer.subscription.updated",
            self._sub_snapshot(sub),
            {"status": "active"},
        )
        retry_at = at + 2 * DAY + self._rng.randint(0, 3600)
        if outcome == "fail_forever":
            state["attempts"] += 1
            self._emit(retry_at, "invoice.payment_failed", snapshot())
            return
        self._payment_method = self._mint.stripe("pm", 24)
        self._emit(
            retry_at,
            "customer.updated",
            self._customer(self._identity.currency),
            {"invoice_settings": {"default_payment_method": None}},
        )
        pay(retry_at + 2)
        sub.status = "active"
        self._emit(
            retry_at + 3,
            "customer.subscription.updated",
            self._sub_snapshot(sub),
            {"status": "past_due"},
        )

    def _maybe_refund(self, at: int) -> None:
        rng = self._rng
        if rng.random() >= 0.08:
            return
        paid = [
            f
            for f in self._invoices.values()
            if f.charge_id and f.refunded == 0 and f.paid_at and f.paid_at < at - DAY
        ]
        if not paid:
            return
        facts = paid[-1]
        assert facts.charge_id is not None
        full = rng.random() < 0.5
        steps = [facts.charge_amount] if full else [facts.charge_amount // 4]
        if not full and rng.random() < 0.5:
            steps.append(facts.charge_amount // 2)
        for offset, cumulative in enumerate(steps):
            previous = facts.refunded
            facts.refunded = cumulative
            snapshot = charge_object(
                facts.charge_id,
                customer_id=self._customer_id,
                invoice_id=facts.invoice_id,
                amount=facts.charge_amount,
                amount_refunded=cumulative,
                currency=facts.currency,
                created=facts.paid_at or at,
                payment_intent=self._mint.stripe("pi", 24),
                payment_method=self._payment_method,
                balance_transaction=self._mint.stripe("txn", 24),
            )
            self._emit(
                at + offset * 3600,
                "charge.refunded",
                snapshot,
                {"amount_refunded": previous, "refunded": False},
            )

    # -- the oracle's view -----------------------------------------------------------

    def _truth(self) -> BillingTruth:
        sub = self._subscription
        assert sub is not None
        truth = BillingTruth(self._customer_id, self._email, self._name)
        truth.subscriptions.append(
            {
                "subscription_id": sub.subscription_id,
                "customer_id": self._customer_id,
                "price_id": sub.price.price_id,
                "price_lookup_key": sub.price.lookup_key,
                "product_id": sub.price.product_id,
                "unit_amount": sub.price.unit_amount,
                "currency": sub.price.currency,
                "interval": "month",
                "quantity": sub.quantity,
                "status": sub.status,
                "cancel_at_period_end": sub.cancel_at_period_end,
            }
        )
        for facts in self._invoices.values():
            truth.invoices.append(
                {
                    "invoice_id": facts.invoice_id,
                    "number": facts.number,
                    "customer_id": self._customer_id,
                    "subscription_id": facts.subscription_id,
                    "amount_total": facts.total,
                    "amount_paid": facts.amount_paid,
                    "amount_refunded": facts.refunded,
                    "currency": facts.currency,
                    "invoice_status": facts.status,
                    "payment_status": payment_status(facts),
                }
            )
        return truth


def payment_status(facts: _InvoiceFacts) -> str:
    """The README's rule: final status plus cumulative refunds of the invoice's charge."""
    if facts.status != "paid":
        return "not_paid"
    if facts.refunded == 0:
        return "paid"
    if facts.refunded >= facts.amount_paid:
        return "refunded"
    return "partially_refunded"
