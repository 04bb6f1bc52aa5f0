"""Who may call the stand-in: one database, one user, one API key (and a password)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass


@dataclass(frozen=True)
class Credentials:
    database: str
    login: str
    api_key: str
    # JSON-RPC accepts the user's password wherever it accepts the API key.
    password: str | None = None

    def accepts_key(self, secret: str | None) -> bool:
        if not secret:
            return False
        return hmac.compare_digest(secret, self.api_key)

    def accepts_secret(self, secret: object) -> bool:
        if not isinstance(secret, str) or not secret:
            return False
        if self.accepts_key(secret):
            return True
        return self.password is not None and hmac.compare_digest(secret, self.password)

    def __repr__(self) -> str:
        return f"Credentials(database={self.database!r}, login={self.login!r})"
