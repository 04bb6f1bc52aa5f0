"""Deterministic, collision-free identifiers in each source system's shape.

Ids embed a running counter so two objects can never share one; the random tail only
makes them look like the real thing.
"""

from __future__ import annotations

import random
import uuid

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, rest = divmod(number, 62)
        digits.append(_ALPHABET[rest])
    return "".join(reversed(digits))


class IdMint:
    """Hands out ids for one corpus; the same seed gives the same ids."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._counter = 0

    def _next(self) -> int:
        self._counter += 1
        return self._counter

    def stripe(self, prefix: str, width: int = 24) -> str:
        # The counter takes 6 base-62 places (5.6e10 ids), the rest is noise.
        tail = _base62(self._rng.getrandbits(128), width - 7)
        return f"{prefix}_1{_base62(self._next(), 6)}{tail}"

    def short(self, prefix: str) -> str:
        return f"{prefix}_{_base62(self._next(), 5)}{_base62(self._rng.getrandbits(48), 7)}"

    def uuid4(self) -> str:
        # The counter replaces the top bits so uniqueness does not rest on chance.
        bits = (self._next() << 80) | self._rng.getrandbits(80)
        return str(uuid.UUID(int=bits & ((1 << 128) - 1), version=4))

    def hex24(self) -> str:
        return f"{self._next():08x}{self._rng.getrandbits(64):016x}"

    def invoice_prefix(self) -> str:
        return f"{self._next() & 0xFFFFFF:06X}{self._rng.getrandbits(8):02X}"

    def number(self, base: int) -> int:
        """A numeric id (Zendesk users, organizations, tickets) unique in the corpus."""
        return base + self._next()
