"""Segment-shaped identify, group and track calls mapped to business events."""

from __future__ import annotations

from typing import Any

import pytest

from producers.exceptions import PayloadError
from producers.product_analytics import map_segment_message


def _message(message_type: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": message_type,
        "messageId": "msg-1",
        "timestamp": "2024-10-31T23:59:59.900Z",
        "sentAt": "2024-11-01T00:00:01.000Z",
        "userId": "u_1",
        **fields,
    }


def test_identify_carries_the_normalised_email() -> None:
    mapped = map_segment_message(
        _message("identify", traits={"email": " Jo@Acme.Example ", "name": "Jo"})
    )
    assert mapped.identity.subject.kind == "product_user"
    assert mapped.identity.anchor.id == "u_1"
    assert mapped.identity.emails == ("jo@acme.example",)
    assert mapped.payload == {"user_id": "u_1", "email": "jo@acme.example"}
    assert mapped.event_id == mapped.source_object_id == "msg-1"


def test_group_with_numeric_crm_id_and_decorated_website() -> None:
    traits = {"website": "https://www.Acme.Example/", "crm_company_id": 18260501121}
    mapped = map_segment_message(_message("group", groupId="ws_1", traits=traits))
    hints = mapped.identity.as_record()
    assert hints["subject"] == {"kind": "product_group", "id": "ws_1"}
    assert hints["explicit_links"] == [{"kind": "crm_company", "id": "18260501121"}]
    assert hints["domains"] == ["acme.example"]
    assert mapped.payload["crm_company_id"] == "18260501121"
    assert mapped.payload["user_id"] == "u_1"


def test_track_belongs_to_the_context_workspace_and_its_utc_day() -> None:
    mapped = map_segment_message(
        _message(
            "track",
            timestamp="2024-11-01T00:30:00+01:00",
            event="API Calls Metered",
            properties={"calls": 1200},
            context={"groupId": "ws_1"},
        )
    )
    assert mapped.identity.subject.as_record() == {
        "kind": "product_group",
        "id": "ws_1",
    }
    assert mapped.account_key == "ws_1"
    assert mapped.payload["quantity"] == 1200
    assert mapped.payload["day"] == "2024-10-31"


@pytest.mark.parametrize(
    ("event_name", "properties", "quantity"),
    [
        ("Seat Added", {"seats_added": 3}, 3),
        ("Report Exported", {"calls": 500}, 1),
        ("API Calls Metered", {"calls": 12.0}, 12),
    ],
)
def test_track_quantity(event_name: str, properties: dict, quantity: int) -> None:
    message = _message("track", event=event_name, properties=properties)
    assert map_segment_message(message).payload["quantity"] == quantity


def test_track_without_workspace_belongs_to_the_user() -> None:
    mapped = map_segment_message(_message("track", event="Login"))
    assert mapped.identity.subject.as_record() == {"kind": "product_user", "id": "u_1"}


@pytest.mark.parametrize(
    "message",
    [
        _message("track", event="API Calls Metered", properties={}),
        _message("track", event="API Calls Metered", properties={"calls": "many"}),
        _message("group", traits={}),
        _message("identify", userId=None),
        _message("track", event="Login", timestamp="not a time"),
        {"type": "track", "event": "Login", "timestamp": "2024-10-01T00:00:00Z"},
    ],
)
def test_unmappable_messages_are_payload_errors(message: dict) -> None:
    with pytest.raises(PayloadError):
        map_segment_message(message)
