"""Whether one version of an Avro schema can replace another, under a compatibility mode.

The rules are the Avro specification's schema resolution (a reader schema reading data
written with a writer schema), as implemented by Apache Avro's own
``avro.compatibility.ReaderWriterCompatibilityChecker``: fields matched by name or by
the reader's aliases, a reader-only field needs a default, numeric promotion int -> long
-> float -> double, string <-> bytes, writer enum symbols must exist in the reader unless
the reader enum has a default, every writer union branch must match a reader branch,
named types must keep their name (or list the old one as an alias), fixed sizes must
agree. Modes, as a Schema Registry names them:

* ``BACKWARD``: the new schema reads records written with the old one (consumers
  upgrade first; the default);
* ``FORWARD``: the old schema reads records written with the new one (producers upgrade
  first);
* ``FULL``: both;
* ``NONE``: anything goes.

Only the previous version is compared (not every earlier one, as the ``_TRANSITIVE``
modes of a registry would).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import avro.schema
from avro.compatibility import (
    ReaderWriterCompatibilityChecker,
    SchemaCompatibilityType,
    SchemaIncompatibilityType,
)
from fastavro.schema import load_schema


class CompatibilityMode(StrEnum):
    BACKWARD = "BACKWARD"
    FORWARD = "FORWARD"
    FULL = "FULL"
    NONE = "NONE"


class SchemaLoadError(Exception):
    """An ``.avsc`` file (or a type it names) cannot be read or parsed."""


# What each broken rule means, in the words an author of a schema change needs.
_RULES: dict[SchemaIncompatibilityType, str] = {
    SchemaIncompatibilityType.reader_field_missing_default_value: (
        "a field the reader expects is not in the writer and has no default"
    ),
    SchemaIncompatibilityType.type_mismatch: (
        "the types cannot be resolved (allowed promotions: int->long->float->double, "
        "string<->bytes)"
    ),
    SchemaIncompatibilityType.missing_enum_symbols: (
        "the writer has enum symbols the reader lacks, and the reader enum has no default"
    ),
    SchemaIncompatibilityType.missing_union_branch: (
        "a writer union branch matches no reader branch"
    ),
    SchemaIncompatibilityType.name_mismatch: (
        "a named type changed name without an alias for the old name"
    ),
    SchemaIncompatibilityType.fixed_size_mismatch: "a fixed type changed size",
}


@dataclass(frozen=True)
class Incompatibility:
    schema: str  # the named type checked, e.g. pipeline.BusinessEvent
    direction: str  # "new reads old" or "old reads new"
    field: str  # dotted field path, "" for the type itself
    rule: str
    detail: str

    def __str__(self) -> str:
        where = f"field {self.field!r}" if self.field else "the type itself"
        return f"{self.schema}: {where}: {self.rule} ({self.direction}; {self.detail})"


def load_avro(path: Path) -> avro.schema.Schema:
    """One ``.avsc`` file, with the named types it references read from its folder."""
    try:
        # fastavro finds referenced types as <full name>.avsc beside the file and
        # writes each one out once, which is the form Apache Avro can parse.
        expanded = load_schema(str(path), _write_hint=False)
        return avro.schema.parse(json.dumps(expanded))
    except Exception as exc:  # fastavro and avro raise many unrelated types
        raise SchemaLoadError(f"cannot load schema {path}: {exc}") from exc


def incompatibilities(
    old: avro.schema.Schema, new: avro.schema.Schema, mode: CompatibilityMode
) -> list[Incompatibility]:
    """What breaks ``mode`` when ``new`` replaces ``old``; empty when compatible."""
    found: list[Incompatibility] = []
    if mode in (CompatibilityMode.BACKWARD, CompatibilityMode.FULL):
        found += reader_writer(reader=new, writer=old, direction="new reads old")
    if mode in (CompatibilityMode.FORWARD, CompatibilityMode.FULL):
        found += reader_writer(reader=old, writer=new, direction="old reads new")
    return found


def reader_writer(
    *, reader: avro.schema.Schema, writer: avro.schema.Schema, direction: str
) -> list[Incompatibility]:
    """Why ``reader`` cannot read data written with ``writer`` (empty: it can)."""
    result = ReaderWriterCompatibilityChecker().get_compatibility(reader, writer)
    if result.compatibility is SchemaCompatibilityType.compatible:
        return []
    name = _full_name(reader) or _full_name(writer)
    # The result keeps kinds, messages and locations in separate sets, so they cannot
    # be paired: each location gets every broken rule and every message.
    rule = "; ".join(
        _RULES.get(kind, kind.value) for kind in _unique(result.incompatibilities)
    )
    detail = "; ".join(sorted(str(message) for message in result.messages))
    locations = sorted(result.locations - {"/"}) or ["/"]
    return [
        Incompatibility(
            schema=name,
            direction=direction,
            field=_field_path(location, reader) or _field_path(location, writer),
            rule=rule,
            detail=detail,
        )
        for location in locations
    ]


def _unique(kinds: Any) -> list[SchemaIncompatibilityType]:
    seen: list[SchemaIncompatibilityType] = []
    for kind in kinds:
        if kind not in seen:
            seen.append(kind)
    return seen


def _full_name(schema: avro.schema.Schema) -> str:
    return str(getattr(schema, "fullname", "") or schema.type)


def _field_path(pointer: str, schema: avro.schema.Schema) -> str:
    """The dotted field names along a JSON pointer such as ``/fields/3/type/fields/0``."""
    names: list[str] = []
    node: Any = schema
    steps = [step for step in pointer.split("/") if step]
    index = 0
    while index < len(steps):
        step = steps[index]
        if step == "fields" and index + 1 < len(steps):
            fields = getattr(node, "fields", None)
            position = _int(steps[index + 1])
            if fields is None or position is None or position >= len(fields):
                return ".".join(names)
            node = fields[position]
            names.append(node.name)
            index += 2
            continue
        node = _descend(node, step)
        if node is None:
            return ".".join(names)
        index += 1
    return ".".join(names)


def _descend(node: Any, step: str) -> Any:
    if step == "type":
        return getattr(node, "type", None)
    if step == "items":
        return getattr(node, "items", None)
    if step == "values":
        return getattr(node, "values", None)
    position = _int(step)
    branches = getattr(node, "schemas", None)
    if position is not None and branches is not None and position < len(branches):
        return branches[position]
    return None


def _int(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def modes_by_schema(
    table: Mapping[str, Any],
) -> tuple[CompatibilityMode, dict[str, CompatibilityMode]]:
    """The default mode and the per-schema modes of ``compatibility.toml``'s content."""
    default = CompatibilityMode(str(table.get("default", "BACKWARD")).upper())
    schemas = {
        str(name): CompatibilityMode(str(mode).upper())
        for name, mode in dict(table.get("schemas", {})).items()
    }
    return default, schemas
