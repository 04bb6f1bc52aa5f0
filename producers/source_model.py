"""Common ground of the pydantic models that read source payloads.

Models declare only the fields the pipeline uses and ignore the rest, so a source adding
fields never breaks ingestion. A payload that lacks a required field becomes a
``PayloadError`` whose detail names the fields, never their values.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from producers.exceptions import PayloadError
from producers.timestamps import from_unix_seconds, parse_iso8601
from producers.validation import INVALID_PAYLOAD


class SourceModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


def _id_as_text(value: Any) -> Any:
    # Some exports write ids as JSON numbers, events as strings; the pipeline compares
    # them as decimal text. A float id would already have lost digits, so it is refused.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _blank_as_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _iso_timestamp(value: Any) -> Any:
    return parse_iso8601(value) if isinstance(value, str) else value


def _unix_timestamp(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return from_unix_seconds(value)
    raise ValueError("expected Unix seconds")


def _require_aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamp has no time zone")
    return value


SourceId = Annotated[str, BeforeValidator(_id_as_text)]
OptionalText = Annotated[str | None, BeforeValidator(_blank_as_none)]
OptionalSourceId = Annotated[
    str | None, BeforeValidator(_id_as_text), BeforeValidator(_blank_as_none)
]
IsoTimestamp = Annotated[datetime, BeforeValidator(_iso_timestamp)]
UnixTimestamp = Annotated[datetime, BeforeValidator(_unix_timestamp)]

ModelT = TypeVar("ModelT", bound=SourceModel)


def parse_payload(model: type[ModelT], document: Any, what: str) -> ModelT:
    """Validate ``document`` as ``model``; failures become a PayloadError for ``what``."""
    try:
        parsed = model.model_validate(document)
    except ValidationError as exc:
        fields = sorted(
            {
                ".".join(str(part) for part in error["loc"]) or "$"
                for error in exc.errors()
            }
        )
        raise PayloadError(
            INVALID_PAYLOAD, f"{what}: missing or malformed {', '.join(fields)}"
        ) from None
    return parsed


def whole_number(value: Any, field_name: str, what: str) -> int:
    """An integer count from a JSON number (``3`` or ``3.0``); anything else is refused."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise PayloadError(INVALID_PAYLOAD, f"{what}: {field_name} is not a whole number")
