"""CRM adapter: HubSpot-style company and contact exports (CSV).

The exports are UTF-8 with RFC-4180 quoting and CRLF line ends; a quoted field may span
lines, so a record is numbered by the physical line it starts on (the header is line 1).
A record id may repeat: each row is a version, and the processors keep the latest by
``Last Modified Date``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from producers.business_event import (
    CRM_COMPANY,
    CRM_CONTACT,
    MappedEvent,
    NodeRef,
    identity_hints,
)
from producers.identifiers import country_alpha2, normalize_domain, normalize_email
from producers.source_model import (
    IsoTimestamp,
    OptionalSourceId,
    OptionalText,
    SourceModel,
    parse_payload,
)
from producers.timestamps import isoformat_utc

SOURCE_SYSTEM = "crm"
RECORD_ID_COLUMN = "Record ID"


@dataclass(frozen=True)
class CsvRecord:
    """One CSV record: the physical line it starts on and its cells by header name.

    ``malformed`` says why the row could not be read as a record of the header's shape
    (a column count that differs from the header, a quoting error), or is None.
    """

    line: int
    raw: bytes
    cells: dict[str, str]
    malformed: str | None = None


def read_csv_records(path: Path) -> Iterator[CsvRecord]:
    """Every record after the header, numbered by the physical line it starts on."""
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as stream:
        consumed: list[str] = []

        def physical_lines() -> Iterator[str]:
            # Remember the text of each line the reader takes, so a record's raw bytes
            # are exactly what the file held, quoting and line breaks included.
            for text in stream:
                consumed.append(text)
                yield text

        reader = csv.reader(physical_lines(), strict=True)
        header = next(reader, None)
        if header is None:
            return
        while True:
            start_line = reader.line_num + 1
            consumed.clear()
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield CsvRecord(
                    start_line, _joined(consumed), {}, f"unreadable ({exc})"
                )
                continue
            raw = _joined(consumed)
            if len(cells) != len(header):
                malformed = f"{len(cells)} cells, header has {len(header)}"
                yield CsvRecord(start_line, raw, {}, malformed)
                continue
            yield CsvRecord(start_line, raw, dict(zip(header, cells, strict=True)))


def _joined(lines: list[str]) -> bytes:
    return "".join(lines).rstrip("\r\n").encode("utf-8")


class CrmCompanyRow(SourceModel):
    record_id: str = Field(alias="Record ID")
    name: str = Field(alias="Company name")
    domain: OptionalText = Field(default=None, alias="Company Domain Name")
    country: OptionalText = Field(default=None, alias="Country/Region")
    vat_number: OptionalText = Field(default=None, alias="VAT number")
    created_at: IsoTimestamp = Field(alias="Create Date")
    modified_at: IsoTimestamp = Field(alias="Last Modified Date")


class CrmContactRow(SourceModel):
    record_id: str = Field(alias="Record ID")
    first_name: OptionalText = Field(default=None, alias="First Name")
    last_name: OptionalText = Field(default=None, alias="Last Name")
    email: OptionalText = Field(default=None, alias="Email")
    phone: OptionalText = Field(default=None, alias="Phone Number")
    company_id: OptionalSourceId = Field(default=None, alias="Associated Company ID")
    created_at: IsoTimestamp = Field(alias="Create Date")
    modified_at: IsoTimestamp = Field(alias="Last Modified Date")


def map_company_row(cells: dict[str, str]) -> MappedEvent:
    """Map a validated company row; raises PayloadError when required cells lack."""
    row = parse_payload(CrmCompanyRow, cells, "CRM company row")
    record_id = row.record_id.strip()
    domain = normalize_domain(row.domain)
    return MappedEvent(
        event_id=f"{CRM_COMPANY}:{record_id}:{isoformat_utc(row.modified_at)}",
        event_type="crm.company",
        source_system=SOURCE_SYSTEM,
        source_object_id=record_id,
        occurred_at=row.modified_at,
        identity=identity_hints(NodeRef(CRM_COMPANY, record_id), domains=(domain,)),
        payload_schema="pipeline.CrmCompany",
        payload={
            "record_id": record_id,
            "name": row.name.strip(),
            "domain": domain,
            "country_code": country_alpha2(row.country),
            "vat_number": row.vat_number.strip() if row.vat_number else None,
            "created_at": row.created_at,
            "modified_at": row.modified_at,
        },
    )


def map_contact_row(cells: dict[str, str]) -> MappedEvent:
    """Map a validated contact row; raises PayloadError when required cells lack."""
    row = parse_payload(CrmContactRow, cells, "CRM contact row")
    record_id = row.record_id.strip()
    email = normalize_email(row.email)
    company = NodeRef(CRM_COMPANY, row.company_id.strip()) if row.company_id else None
    name = " ".join(part.strip() for part in (row.first_name, row.last_name) if part)
    return MappedEvent(
        event_id=f"{CRM_CONTACT}:{record_id}:{isoformat_utc(row.modified_at)}",
        event_type="crm.contact",
        source_system=SOURCE_SYSTEM,
        source_object_id=record_id,
        occurred_at=row.modified_at,
        identity=identity_hints(
            NodeRef(CRM_CONTACT, record_id),
            anchor=company,
            links=(company,),
            emails=(email,),
        ),
        payload_schema="pipeline.CrmContact",
        payload={
            "record_id": record_id,
            "name": name,
            "email": email,
            "phone": row.phone.strip() if row.phone else None,
            "company_id": company.id if company else None,
            "created_at": row.created_at,
            "modified_at": row.modified_at,
        },
    )
