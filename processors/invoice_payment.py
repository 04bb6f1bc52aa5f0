"""An invoice's payment state: its charges' cumulative refunds and the payment status.

A charge's ``amount_refunded`` is cumulative, so the largest value seen is the truth
whatever order the refund events arrive in. An invoice's refunded amount is the sum over
its charges.

``payment_status``:

* ``paid``: the invoice status is ``paid`` and nothing was refunded (a 0.00 invoice that
  is paid is paid);
* ``refunded``: refunds reach ``amount_paid``;
* ``partially_refunded``: refunds are above zero but below ``amount_paid``;
* ``not_paid``: any other status.

Store layout: ``refunds:<invoice id>`` -> ``{charge id: largest amount_refunded}``.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

logger = logging.getLogger(__name__)

PAID = "paid"
REFUNDED = "refunded"
PARTIALLY_REFUNDED = "partially_refunded"
NOT_PAID = "not_paid"


def payment_status(invoice_status: str, amount_paid: int, amount_refunded: int) -> str:
    if amount_refunded > 0:
        return REFUNDED if amount_refunded >= amount_paid else PARTIALLY_REFUNDED
    return PAID if invoice_status == "paid" else NOT_PAID


class ChargeRefunds:
    """Cumulative refunds per charge, grouped by the invoice the charge paid."""

    def __init__(self, store: MutableMapping[str, Any]) -> None:
        self._store = store

    def record(self, charge: dict[str, Any]) -> bool:
        """Keep the charge's refunded amount if it grew; say whether it did."""
        invoice_id = charge.get("invoice_id")
        if not invoice_id:
            logger.warning(
                "charge has no invoice: its refunds reach no invoice",
                extra={"charge_id": charge.get("charge_id")},
            )
            return False
        refunds = dict(self._store.get(f"refunds:{invoice_id}", {}))
        charge_id = charge["charge_id"]
        refunded = int(charge.get("amount_refunded") or 0)
        if charge_id in refunds and refunds[charge_id] >= refunded:
            return False
        refunds[charge_id] = refunded
        self._store[f"refunds:{invoice_id}"] = refunds
        return True

    def refunded(self, invoice_id: str) -> int:
        return sum(self._store.get(f"refunds:{invoice_id}", {}).values())

    def with_payment_state(self, invoice: dict[str, Any]) -> dict[str, Any]:
        """The invoice snapshot with ``amount_refunded`` and ``payment_status`` filled."""
        refunded = self.refunded(invoice["invoice_id"])
        status = payment_status(
            invoice["status"], int(invoice["amount_paid"]), refunded
        )
        return {**invoice, "amount_refunded": refunded, "payment_status": status}
