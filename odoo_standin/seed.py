"""Reference data a fresh Odoo database already holds: countries, currencies, the user.

Countries come from ISO 3166 (``pycountry``), currencies from ISO 4217 with symbols and
decimal places from CLDR (``babel``). Seeding runs only on empty tables, so restarting
the stand-in on an existing file keeps its data.
"""

from __future__ import annotations

import logging
import sqlite3

import pycountry
from babel.numbers import get_currency_precision, get_currency_symbol

from odoo_standin.store import Store

logger = logging.getLogger(__name__)


def seed_reference_data(store: Store, login: str) -> int:
    """Fill empty reference tables; return the id of the user named ``login``."""
    with store.transaction() as cursor:
        if _is_empty(cursor, "res_country"):
            cursor.executemany(
                'INSERT INTO "res_country" ("code", "name") VALUES (?, ?)',
                [(c.alpha_2, c.name) for c in pycountry.countries],
            )
        if _is_empty(cursor, "res_currency"):
            # Odoo ships most currencies inactive; the stand-in activates all of them
            # so the sink can use any currency a billing system reports.
            cursor.executemany(
                'INSERT INTO "res_currency" ("name", "symbol", "decimal_places", '
                '"active") VALUES (?, ?, ?, 1)',
                [
                    (
                        c.alpha_3,
                        get_currency_symbol(c.alpha_3, locale="en"),
                        get_currency_precision(c.alpha_3),
                    )
                    for c in pycountry.currencies
                ],
            )
        row = cursor.execute(
            'SELECT "id" FROM "res_users" WHERE "login" = ?', (login,)
        ).fetchone()
        if row is not None:
            return int(row[0])
        cursor.execute(
            'INSERT INTO "res_users" ("name", "login") VALUES (?, ?)',
            ("Administrator", login),
        )
        logger.info("created user %s", login)
        return int(cursor.lastrowid or 0)


def _is_empty(cursor: sqlite3.Cursor, table: str) -> bool:
    return cursor.execute(f'SELECT 1 FROM "{table}" LIMIT 1').fetchone() is None
