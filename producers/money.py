"""Currency codes as the pipeline carries them: lower-case ISO-4217 plus the exponent.

Amounts stay integer minor units as the source sent them; the exponent says how many of
those make one major unit (EUR 2, JPY 0, BHD 3), so no consumer has to guess.
"""

from __future__ import annotations

import pycountry
from babel.numbers import get_currency_precision


def is_iso4217(code: object) -> bool:
    """Whether ``code`` is a three-letter ISO-4217 currency code, in any letter case."""
    if not isinstance(code, str) or len(code) != 3 or not code.isalpha():
        return False
    return pycountry.currencies.get(alpha_3=code.upper()) is not None


def normalize_currency(code: str) -> str:
    """The code in lower case, the form Stripe uses and the pipeline stores."""
    return code.strip().lower()


def currency_exponent(code: str) -> int:
    """Number of decimal places of the currency's minor unit (JPY -> 0, EUR -> 2)."""
    return get_currency_precision(code.strip().upper())
