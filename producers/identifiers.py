"""Normalisation of the identifiers that join records of different systems.

The identity rules compare e-mail addresses and domains for equality, so every adapter
must reduce them to the same form: e-mails trimmed and lower-cased; domains lower-cased
without scheme, ``www.``, path or port.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import pycountry

logger = logging.getLogger(__name__)


def normalize_email(raw: str | None) -> str | None:
    """The address trimmed and lower-cased, or None when nothing is left."""
    if raw is None:
        return None
    email = raw.strip().lower()
    return email or None


def normalize_domain(raw: str | None) -> str | None:
    """A bare host name from a domain or website value, or None when there is none.

    Accepts ``example.com``, ``https://www.Example.com:8443/path`` and the like.
    """
    if raw is None:
        return None
    text = raw.strip().lower()
    if not text:
        return None
    # urlsplit only finds the host after "//"; a bare "example.com/x" would otherwise be
    # read as a path.
    if "//" not in text:
        text = f"//{text}"
    host = urlsplit(text).hostname
    if not host:
        return None
    host = host.rstrip(".")
    if host.startswith("www."):
        host = host[len("www.") :]
    return host or None


def email_domain(email: str | None) -> str | None:
    """The normalised domain part of an e-mail address, if it has one."""
    normalized = normalize_email(email)
    if normalized is None or "@" not in normalized:
        return None
    return normalize_domain(normalized.rsplit("@", 1)[1])


def country_alpha2(name: str | None) -> str | None:
    """ISO-3166 alpha-2 code for a country name or code as a CRM exports it.

    An unrecognised name yields None rather than a guess: a wrong country on an invoice
    address is worse than a missing one.
    """
    if name is None or not name.strip():
        return None
    try:
        return pycountry.countries.lookup(name.strip()).alpha_2
    except LookupError:
        logger.info("country name not recognised; left empty", extra={"country": name})
        return None
