"""Deterministic, collision-free identifiers in each source system's shape.

Ids embed a running counter so two objects can never share one; the random tail only
makes them look like the real thing.
"""

from __future__ import annotations

import base64
import random

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


# Prime, odd and not a multiple of 31: coprime to every modulus used below.
_SCRAMBLE = 2654435761
_SYMBOLS_TO_ALNUM = str.maketrans("+/=", "xQk")


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

    def _scrambled(self, modulus: int) -> int:
        """The next counter value, permuted within ``range(modulus)``.

        Multiplying by a constant coprime to the modulus is a bijection, so ids stay
        unique while not looking sequential.
        """
        return (self._next() * _SCRAMBLE) % modulus

    def _noise(self, width: int) -> str:
        # base64 of random bytes with its two symbols mapped into the alphanumerics:
        # much faster than base-62 arithmetic, and the ids only need to look random.
        raw = base64.b64encode(self._rng.randbytes(width)).decode("ascii")
        return raw.translate(_SYMBOLS_TO_ALNUM)[:width]

    def stripe(self, prefix: str, width: int = 24) -> str:
        # The counter takes 6 base-62 places (5.6e10 ids), the rest is noise.
        return f"{prefix}_1{_base62(self._scrambled(62**6), 6)}{self._noise(width - 7)}"

    def short(self, prefix: str) -> str:
        return f"{prefix}_{_base62(self._scrambled(62**5), 5)}{self._noise(7)}"

    def uuid4(self) -> str:
        # The counter replaces the top bits so uniqueness does not rest on chance.
        digits = f"{self._scrambled(1 << 48):012x}{self._rng.getrandbits(80):020x}"
        variant = "89ab"[int(digits[16], 16) & 3]
        return (
            f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-"
            f"{variant}{digits[17:20]}-{digits[20:32]}"
        )

    def hex24(self) -> str:
        return f"{self._scrambled(1 << 32):08x}{self._rng.getrandbits(64):016x}"

    def invoice_prefix(self) -> str:
        return f"{self._scrambled(1 << 24):06X}{self._rng.getrandbits(8):02X}"

    def number(self, base: int) -> int:
        """A numeric id (Zendesk users, organizations, tickets) unique in the corpus."""
        return base + self._next()
