"""HubSpot-style export rows: companies and contacts (UTF-8, RFC-4180, CRLF)."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

COMPANY_HEADER = (
    "Record ID",
    "Company name",
    "Company Domain Name",
    "Country/Region",
    "VAT number",
    "Create Date",
    "Last Modified Date",
)
CONTACT_HEADER = (
    "Record ID",
    "First Name",
    "Last Name",
    "Email",
    "Phone Number",
    "Associated Company ID",
    "Create Date",
    "Last Modified Date",
)


def export_time(at: float) -> str:
    """The export's minute-precision date; the export zone is UTC."""
    return datetime.fromtimestamp(at, tz=UTC).strftime("%Y-%m-%d %H:%M")


class CsvExport:
    """One export file; counts physical lines so rejections can name them."""

    def __init__(self, path: Path, header: tuple[str, ...]) -> None:
        self._stream: TextIO = path.open(
            "w", encoding="utf-8", newline="", buffering=1 << 20
        )
        self._writer = csv.writer(self._stream, lineterminator="\r\n")
        self._writer.writerow(header)
        self.lines = 1

    def write(self, row: list[str]) -> int:
        """Writes one record (never containing a line break) and returns its line."""
        self._writer.writerow(row)
        self.lines += 1
        return self.lines

    def close(self) -> None:
        self._stream.close()
