"""HMAC-SHA256 request signatures of the webhook endpoint.

Header ``X-Signature: t=<unix seconds>,v1=<hex>`` where the hex is
HMAC-SHA256(secret, ``<t>.`` + raw body). Several ``v1`` values may be present while a
sender rotates secrets; one match is enough. The timestamp bounds replays.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Signature"
DEFAULT_TOLERANCE_SECONDS = 300


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The header value a sender puts on ``body`` at ``timestamp``."""
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


def _digest(secret: bytes, timestamp: int, body: bytes) -> str:
    return hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_problem(
    header: str | None,
    secret: bytes,
    body: bytes,
    now: float,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> str | None:
    """Why the signature does not hold, or None when it does."""
    if not header:
        return "no signature header"
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        return "signature header lacks t or v1"
    if abs(now - timestamp) > tolerance_seconds:
        return "signature timestamp outside tolerance"

    expected = _digest(secret, timestamp, body)
    # compare_digest on every candidate: the time taken says nothing about which or how
    # many characters matched.
    matched = [hmac.compare_digest(expected, c) for c in candidates]
    return None if any(matched) else "signature does not match"
