"""HubSpot-style CSV exports: record numbering by physical line, and mapping."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from producers.crm import map_company_row, map_contact_row, read_csv_records
from producers.exceptions import PayloadError

COMPANY = {
    "Record ID": "18260501121",
    "Company name": "Acme GmbH",
    "Company Domain Name": "https://www.Acme.Example",
    "Country/Region": "Germany",
    "VAT number": "EU000000001",
    "Create Date": "2024-09-02 09:14",
    "Last Modified Date": "2024-09-03 10:00",
}
CONTACT = {
    "Record ID": "58112004101",
    "First Name": "Greta",
    "Last Name": "Holm, Jr.",
    "Email": " Greta.Holm@Acme.Example",
    "Phone Number": "+1 212-555-0101",
    "Associated Company ID": "18260501121",
    "Create Date": "2024-09-02 09:20",
    "Last Modified Date": "2024-09-02 09:20",
}


def test_company_row() -> None:
    mapped = map_company_row(COMPANY)
    assert mapped.identity.subject.as_record() == {
        "kind": "crm_company",
        "id": "18260501121",
    }
    assert mapped.identity.domains == ("acme.example",)
    assert mapped.event_id == "crm_company:18260501121:2024-09-03T10:00:00Z"
    assert mapped.occurred_at == datetime(2024, 9, 3, 10, tzinfo=UTC)
    assert mapped.payload["country_code"] == "DE"
    assert mapped.payload["created_at"] == datetime(2024, 9, 2, 9, 14, tzinfo=UTC)


def test_contact_is_anchored_on_its_company() -> None:
    mapped = map_contact_row(CONTACT)
    hints = mapped.identity.as_record()
    assert hints["subject"] == {"kind": "crm_contact", "id": "58112004101"}
    assert hints["anchor"] == {"kind": "crm_company", "id": "18260501121"}
    assert hints["explicit_links"] == [{"kind": "crm_company", "id": "18260501121"}]
    assert hints["emails"] == ["greta.holm@acme.example"]
    assert mapped.account_key == "18260501121"
    assert mapped.payload["name"] == "Greta Holm, Jr."


def test_contact_without_email_or_company() -> None:
    mapped = map_contact_row({**CONTACT, "Email": "", "Associated Company ID": ""})
    assert mapped.identity.emails == ()
    assert mapped.identity.anchor == mapped.identity.subject
    assert mapped.payload["email"] is None
    assert mapped.payload["company_id"] is None


def test_row_without_modified_date_is_refused() -> None:
    with pytest.raises(PayloadError):
        map_company_row({**COMPANY, "Last Modified Date": ""})


def test_records_are_numbered_by_the_line_they_start_on(tmp_path: Path) -> None:
    path = tmp_path / "companies.csv"
    path.write_bytes(
        b"Record ID,Company name\r\n"
        b'1,"Multi\r\nline, name"\r\n'
        b"2,\xc3\x93palo\r\n"
        b"3,too,many\r\n"
    )
    records = list(read_csv_records(path))
    assert [r.line for r in records] == [2, 4, 5]
    assert records[0].cells["Company name"] == "Multi\r\nline, name"
    assert records[0].raw == b'1,"Multi\r\nline, name"'
    assert records[1].cells["Company name"] == "Ópalo"
    assert records[2].malformed is not None
