"""Fixed vocabulary of generated corpora: vendor, plans, prices, countries, domains.

Everything is invented. All domains are under the reserved ``.example`` TLD and
``FREE_MAIL_DOMAIN`` plays a consumer mail provider: addresses there belong to people,
never to companies, so they must never link anything by domain.
"""

from __future__ import annotations

from dataclasses import dataclass

FREE_MAIL_DOMAIN = "mailbox.example"
VENDOR_DOMAIN = "tallyframe.example"
STRIPE_API_VERSION = "2024-06-20"
ZENDESK_ACCOUNT_ID = 9140221
ZENDESK_EVENT_VERSION = "2022-11-06"
SEGMENT_LIBRARY = {"name": "analytics-python", "version": "2.3.2"}


@dataclass(frozen=True)
class Price:
    price_id: str
    product_id: str
    plan: str
    currency: str
    unit_amount: int
    created: int

    @property
    def lookup_key(self) -> str:
        return f"{self.plan.lower()}_monthly_{self.currency}"

    @property
    def nickname(self) -> str:
        return f"{self.plan} (monthly, {self.currency.upper()})"


STARTER_PRODUCT = "prod_rg7Fpd8EXNpwy5"
GROWTH_PRODUCT = "prod_fxQuQqjA5g44Zo"

PRICES: dict[tuple[str, str], Price] = {
    ("Starter", "eur"): Price(
        "price_1b1iYxP4OAVhSauuCZcRq1wh",
        STARTER_PRODUCT,
        "Starter",
        "eur",
        2900,
        1704877200,
    ),
    ("Starter", "gbp"): Price(
        "price_1FgmRnpmFaPke6iML9DoaAvU",
        STARTER_PRODUCT,
        "Starter",
        "gbp",
        2500,
        1704877320,
    ),
    ("Starter", "usd"): Price(
        "price_1QdTibplR6lNTyh1aEdCQdRG",
        STARTER_PRODUCT,
        "Starter",
        "usd",
        3200,
        1704877260,
    ),
    ("Growth", "eur"): Price(
        "price_1GXQbwXueaVeYmRC4Cko5DTi",
        GROWTH_PRODUCT,
        "Growth",
        "eur",
        4900,
        1704877400,
    ),
    ("Growth", "gbp"): Price(
        "price_1Wm3kZqHc2TfVn8LrPd5XsYe",
        GROWTH_PRODUCT,
        "Growth",
        "gbp",
        4200,
        1704877440,
    ),
    ("Growth", "usd"): Price(
        "price_19xeaBfDvMBPCHmQIgWbNABs",
        GROWTH_PRODUCT,
        "Growth",
        "usd",
        5500,
        1704877380,
    ),
}

CURRENCY_SYMBOL = {"eur": "€", "gbp": "£", "usd": "$"}


@dataclass(frozen=True)
class Country:
    name: str
    alpha2: str
    currency: str
    legal_suffix: str
    locale: str


COUNTRIES: tuple[Country, ...] = (
    Country("Germany", "DE", "eur", "GmbH", "de"),
    Country("Norway", "NO", "usd", "AS", "nb"),
    Country("United Kingdom", "GB", "gbp", "Ltd", "en-GB"),
    Country("Spain", "ES", "eur", "S.L.", "es"),
    Country("France", "FR", "eur", "SAS", "fr"),
    Country("Netherlands", "NL", "eur", "B.V.", "nl"),
    Country("Sweden", "SE", "usd", "AB", "sv"),
    Country("Ireland", "IE", "eur", "Ltd", "en-IE"),
    Country("United States", "US", "usd", "Inc.", "en-US"),
    Country("Finland", "FI", "eur", "Oy", "fi"),
)

# Name parts; some carry accents or commas so CSV quoting and UTF-8 are exercised.
COMPANY_WORDS_A = (
    "Northwind",
    "Bluefjord",
    "Kestrel",
    "Ópalo",
    "Tidewrack",
    "Marlow",
    "Quillon",
    "Brightwater",
    "Cinderfall",
    "Halvard",
    "Lumen",
    "Saltmarsh",
    "Éclat",
    "Redpine",
    "Ironbark",
    "Windrose",
    "Copperleaf",
    "Ashgrove",
    "Søndre",
    "Velmont",
)
COMPANY_WORDS_B = (
    "Analytics",
    "Logistics",
    "Freight",
    "Studio",
    "Print",
    "Labs",
    "Systems",
    "Partners",
    "Works",
    "Holdings",
    "Media",
    "Robotics",
    "Foods",
    "Energy",
)
FIRST_NAMES = (
    "Greta",
    "Felix",
    "Jonas",
    "Ingrid",
    "Henrik",
    "Mats",
    "Harriet",
    "Priya",
    "José",
    "Lucía",
    "Amara",
    "Tobias",
    "Chloé",
    "Oskar",
    "Maren",
    "Sven",
    "Ana",
    "Léa",
)
LAST_NAMES = (
    "Holm",
    "Brandt",
    "Becker",
    "Solberg",
    "Dahl",
    "Eriksen",
    "Cole",
    "Raman",
    "Núñez",
    "Ferrer",
    "Whitcombe, Jr.",
    "Okafor",
    "Lindqvist",
    "Moreau",
    "Åberg",
)
JOB_TITLES = ("Head of Data", "IT Administrator", "Finance Lead", "Analyst", "CTO")
TICKET_SUBJECTS = (
    "SSO login loop after adding seats",
    "Card declined on renewal",
    "Need a copy of the last invoice",
    "Dashboard export times out",
    "Please cancel our subscription",
    "Wrong company name on invoices",
    "API rate limit questions",
    "Factura con datos incorrectos",
)
AGENTS: tuple[tuple[int, str, str], ...] = (
    (382114050009, "Maya Lindqvist", f"maya.lindqvist@{VENDOR_DOMAIN}"),
    (382114050013, "Tom Okafor", f"tom.okafor@{VENDOR_DOMAIN}"),
)
OTHER_TRACK_EVENTS = ("Report Exported", "Dashboard Viewed", "Plan Upgraded")
