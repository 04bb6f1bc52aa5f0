"""HMAC signatures of webhook requests."""

from __future__ import annotations

import pytest

from producers.webhook_signature import sign, signature_problem

SECRET = b"shared-secret"
BODY = b'{"type":"track"}'
NOW = 1_730_000_000


def test_own_signature_holds() -> None:
    assert signature_problem(sign(SECRET, NOW, BODY), SECRET, BODY, NOW) is None


def test_any_of_several_v1_values_may_match() -> None:
    header = sign(SECRET, NOW, BODY).replace("v1=", "v1=deadbeef,v1=")
    assert signature_problem(header, SECRET, BODY, NOW) is None


@pytest.mark.parametrize(
    ("header", "body", "now"),
    [
        (None, BODY, NOW),
        ("", BODY, NOW),
        ("v1=abc", BODY, NOW),
        (sign(b"other", NOW, BODY), BODY, NOW),
        (sign(SECRET, NOW, BODY), BODY + b" ", NOW),
        (sign(SECRET, NOW, BODY), BODY, NOW + 301),
        (sign(SECRET, NOW, BODY), BODY, NOW - 301),
    ],
)
def test_refused(header: str | None, body: bytes, now: int) -> None:
    assert signature_problem(header, SECRET, body, now) is not None


def test_tolerance_edge_is_accepted() -> None:
    assert signature_problem(sign(SECRET, NOW, BODY), SECRET, BODY, NOW + 300) is None
