"""Records on ``deadletter.ingest`` that are not readable refused inputs (another
writer's bytes, a schema id the registry does not know) are listed as unreadable,
without a traceback and without their contents."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from confluent_kafka.schema_registry.error import SchemaRegistryError

from eventbus import AvroCodec
from pipeline.settings import Settings
from producers import rejected_inputs
from producers.rejected_inputs import (
    UNREADABLE_REASON,
    RejectedInputReadError,
    read_rejected_inputs,
)


class _StoredMessage:
    def __init__(self, offset: int, key: bytes | None, value: bytes | None) -> None:
        self._offset = offset
        self._key = key
        self._value = value

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes | None:
        return self._key

    def value(self) -> bytes | None:
        return self._value

    def headers(self) -> None:
        return None


class _RegistryWithoutTheId:
    def get_schema(self, schema_id: int) -> Any:
        raise SchemaRegistryError(404, 40403, f"Schema {schema_id} not found")


def _codec_with_registry(url: str | None) -> AvroCodec:
    codec = AvroCodec(None)
    codec._registry = _RegistryWithoutTheId()  # type: ignore[assignment]
    return codec


SECRET_TEXT = b"ann@x.test +47 99 88 77 66"


@pytest.mark.parametrize(
    "value",
    [
        None,
        b"",
        b"\x00",
        struct.pack(">bI", 0, 999_999) + SECRET_TEXT,
        b"\x07garbage " + SECRET_TEXT,
    ],
    ids=["tombstone", "empty", "short", "unknown-schema-id", "bad-magic"],
)
def test_an_unreadable_record_is_listed_as_unreadable(
    value: bytes | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        rejected_inputs,
        "read_topic",
        lambda settings, topic, client_id: [_StoredMessage(4, b"product", value)],
    )
    monkeypatch.setattr(rejected_inputs, "AvroCodec", _codec_with_registry)

    [listed] = read_rejected_inputs(Settings())

    assert listed.reason == UNREADABLE_REASON
    assert listed.offset == 4
    assert "ann@x.test" not in str(listed.listing())


class _FailingRegistry:
    def get_schema(self, schema_id: int) -> Any:
        raise SchemaRegistryError(500, 50001, "backend store unavailable")


def test_a_failing_registry_stops_the_listing_instead_of_calling_records_unreadable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def codec_with_failing_registry(url: str | None) -> AvroCodec:
        codec = AvroCodec(None)
        codec._registry = _FailingRegistry()  # type: ignore[assignment]
        return codec

    framed = struct.pack(">bI", 0, 999_999) + SECRET_TEXT
    monkeypatch.setattr(
        rejected_inputs,
        "read_topic",
        lambda settings, topic, client_id: [_StoredMessage(4, b"product", framed)],
    )
    monkeypatch.setattr(rejected_inputs, "AvroCodec", codec_with_failing_registry)

    with pytest.raises(RejectedInputReadError, match="offset 4"):
        read_rejected_inputs(Settings())
