"""E-mail, domain, country, currency and timestamp normalisation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from producers.identifiers import (
    country_alpha2,
    email_domain,
    normalize_domain,
    normalize_email,
)
from producers.money import currency_exponent, is_iso4217, normalize_currency
from producers.timestamps import (
    from_unix_seconds,
    isoformat_utc,
    parse_crm_datetime,
    parse_iso8601,
)


def test_email_is_trimmed_and_lowercased() -> None:
    assert normalize_email("  Jose.Nunez@Opalo-Estudio.Example ") == (
        "jose.nunez@opalo-estudio.example"
    )
    assert normalize_email("   ") is None
    assert normalize_email(None) is None


@pytest.mark.parametrize(
    ("raw", "domain"),
    [
        ("https://www.Foo.example:8443/x", "foo.example"),
        ("https://www.Northwind-Analytics.example/", "northwind-analytics.example"),
        ("foo.example", "foo.example"),
        ("WWW.foo.example/path?q=1", "foo.example"),
        ("http://sub.foo.example", "sub.foo.example"),
        ("foo.example:80", "foo.example"),
        ("", None),
        (None, None),
    ],
)
def test_domain(raw: str | None, domain: str | None) -> None:
    assert normalize_domain(raw) == domain


def test_email_domain() -> None:
    assert (
        email_domain(" AP@Bluefjord-Logistics.example") == "bluefjord-logistics.example"
    )
    assert email_domain("no-at-sign") is None


@pytest.mark.parametrize(
    ("name", "code"),
    [("Germany", "DE"), ("United Kingdom", "GB"), ("Norway", "NO"), ("ES", "ES")],
)
def test_country(name: str, code: str) -> None:
    assert country_alpha2(name) == code


def test_unknown_country_is_none() -> None:
    assert country_alpha2("Atlantis") is None
    assert country_alpha2("") is None


def test_currency() -> None:
    assert normalize_currency("EUR") == "eur"
    assert currency_exponent("jpy") == 0
    assert currency_exponent("eur") == 2
    assert currency_exponent("BHD") == 3
    assert is_iso4217("usd") and not is_iso4217("zzz")


def test_unix_seconds_are_utc() -> None:
    assert from_unix_seconds(1725525062) == datetime(2024, 9, 5, 8, 31, 2, tzinfo=UTC)


def test_offset_is_converted_to_utc() -> None:
    parsed = parse_iso8601("2024-10-31T23:30:00+02:00")
    assert parsed == datetime(2024, 10, 31, 21, 30, tzinfo=UTC)
    assert parsed.utcoffset().total_seconds() == 0


def test_z_suffix_with_millis() -> None:
    assert parse_iso8601("2024-10-31T23:59:59.915Z") == datetime(
        2024, 10, 31, 23, 59, 59, 915000, tzinfo=UTC
    )


def test_crm_dates_without_offset_are_utc() -> None:
    assert parse_crm_datetime("2024-09-02 09:14") == datetime(
        2024, 9, 2, 9, 14, tzinfo=UTC
    )


def test_not_a_date_raises() -> None:
    with pytest.raises(ValueError):
        parse_iso8601("yesterday")


def test_isoformat_utc() -> None:
    moment = datetime(2024, 9, 2, 11, 14, tzinfo=UTC)
    assert isoformat_utc(moment) == "2024-09-02T11:14:00Z"
