"""Deliberately bad lines, one defect each, built from a real event of the same file.

Each copy gets a fresh event id (and, for invoices, a fresh invoice id), so a pipeline
that wrongly accepts one produces a visible extra record instead of a silent no-op.
"""

from __future__ import annotations

import json
import random
from typing import Any

from loadgen.identifiers import IdMint
from loadgen.timeline import BILLING, PRODUCT, TimedEvent

MAX_LINE_BYTES = 65536
INVALID_JSON = "invalid_json"


def kinds_for(event: TimedEvent) -> tuple[str, ...]:
    """The rejection reasons a copy of ``event`` can demonstrate."""
    if event.event_file == BILLING:
        obj = event.payload["data"]["object"].get("object")
        if obj == "invoice":
            return (
                "unknown_event_type",
                "negative_amount",
                "unknown_currency",
                INVALID_JSON,
            )
        if obj == "charge":
            return ("unknown_event_type", "negative_amount", INVALID_JSON)
        return ("unknown_event_type", INVALID_JSON)
    if event.event_file == PRODUCT:
        name = event.payload.get("event")
        if name in ("API Calls Metered", "Seat Added"):
            return (
                "null_byte",
                "missing_type",
                "negative_amount",
                "unknown_event_type",
                INVALID_JSON,
            )
        return ("null_byte", "missing_type", "unknown_event_type", INVALID_JSON)
    return (
        "oversized_payload",
        "null_byte",
        "missing_type",
        "unknown_event_type",
        INVALID_JSON,
    )


def truncated(line: str, rng: random.Random) -> str:
    """A first delivery attempt cut off mid-object: never valid JSON."""
    return line[: rng.randint(len(line) // 4, len(line) // 2)]


def fabricate(kind: str, event: TimedEvent, mint: IdMint) -> str:
    """One line whose only defect is ``kind`` (not ``invalid_json``)."""
    copy: dict[str, Any] = json.loads(json.dumps(event.payload))
    if event.event_file == BILLING:
        _stripe_defect(kind, copy, mint)
    elif event.event_file == PRODUCT:
        _segment_defect(kind, copy, mint)
    else:
        _zendesk_defect(kind, copy, mint)
    return json.dumps(copy, ensure_ascii=False)


def _stripe_defect(kind: str, copy: dict[str, Any], mint: IdMint) -> None:
    copy["id"] = mint.stripe("evt", 24)
    obj = copy["data"]["object"]
    if kind == "unknown_event_type":
        copy["type"] = "invoice.payment_reminder_scheduled"
    elif kind == "negative_amount" and obj["object"] == "invoice":
        obj["id"] = mint.stripe("in", 24)
        obj["amount_due"] = obj["amount_remaining"] = -abs(obj["amount_due"] or 4500)
        obj["status"], obj["number"], copy["type"] = "draft", None, "invoice.created"
    elif kind == "negative_amount":
        obj["amount_refunded"] = -abs(obj["amount_refunded"] or 100)
    elif kind == "unknown_currency":
        obj["id"] = mint.stripe("in", 24)
        obj["currency"] = "zzz"
        for line in obj["lines"]["data"]:
            line["currency"] = "zzz"
        obj["status"], obj["number"], copy["type"] = "draft", None, "invoice.created"


def _segment_defect(kind: str, copy: dict[str, Any], mint: IdMint) -> None:
    copy["messageId"] = mint.uuid4()
    if kind == "null_byte":
        holder = copy.get("traits") or copy.setdefault("properties", {})
        holder["name"] = "Ana\u0000Lopez"
    elif kind == "missing_type":
        del copy["type"]
        copy.setdefault("properties", {})["calls"] = 999
    elif kind == "negative_amount":
        props = copy["properties"]
        key = "calls" if "calls" in props else "seats_added"
        props[key] = -abs(props[key] or 1)
    elif kind == "unknown_event_type":
        copy["type"] = "page"


def _zendesk_defect(kind: str, copy: dict[str, Any], mint: IdMint) -> None:
    copy["id"] = mint.uuid4()
    if kind == "oversized_payload":
        copy["type"] = "zen:event-type:ticket.comment_added"
        # A pasted export: about 70 KB, over the 64 KiB line limit.
        rows = "\n".join(f"{n},report-{n},2024-10-01,ok" for n in range(2600))
        copy["event"]["comment"] = {
            "id": str(mint.number(32481390000000)),
            "body": rows,
            "is_public": True,
            "author": {
                "id": copy["detail"]["requester_id"],
                "is_staff": False,
                "name": "Customer",
            },
        }
    elif kind == "null_byte":
        copy["detail"]["subject"] = "Invoice\u0000copy"
    elif kind == "missing_type":
        copy["type"] = ""
    elif kind == "unknown_event_type":
        copy["type"] = "zen:event-type:ticket.tags_changed"
