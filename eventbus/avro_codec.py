"""Avro encoding in the Confluent wire format.

Every record on a pipeline topic is framed as ``0x00 | schema id (4 bytes, big-endian) |
Avro binary``. A consumer finds the writer schema from the id and resolves it against its
own reader schema, so older records stay readable after a schema evolves.

Where the id comes from:

* the embedded catalog (``schemas/catalog.json``) when no Schema Registry is configured;
* a Confluent Schema Registry when ``schema_registry_url`` is set: schemas are registered
  under ``<subject>-value`` and ids are the registry's.

The framing and the Avro bytes are the same either way, so a topic written in one mode can
be read in the other once the registry holds the same schemas.
"""

from __future__ import annotations

import io
import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro
from fastavro.schema import load_schema

from schemas import CATALOG_FILE, SCHEMA_DIR

MAGIC_BYTE = 0
_HEADER = struct.Struct(">bI")


class SchemaCatalogError(Exception):
    """The schema catalog or registry cannot name the schema asked for."""


class WireFormatError(Exception):
    """A record's bytes are not a Confluent-framed Avro record we can read."""


@dataclass(frozen=True)
class CatalogEntry:
    schema_id: int
    subject: str
    version: int
    file: str


def load_parsed_schema(file_name: str, schema_dir: Path = SCHEMA_DIR) -> dict[str, Any]:
    """Parse one ``.avsc`` file, resolving the named types it references."""
    # The parsed form carries fastavro's "already parsed" marker, so encoding and decoding
    # do not parse the schema again for every record.
    return load_schema(str(schema_dir / file_name))


class AvroCodec:
    """Encodes and decodes the pipeline's top-level messages by subject name."""

    def __init__(
        self,
        schema_registry_url: str | None = None,
        catalog_file: Path = CATALOG_FILE,
    ) -> None:
        catalog = json.loads(catalog_file.read_text())
        self._entries = [
            CatalogEntry(e["id"], e["subject"], e["version"], e["file"])
            for e in catalog["schemas"]
        ]
        self._schemas_by_file: dict[str, dict[str, Any]] = {}
        self._registry = None
        self._registry_ids: dict[str, int] = {}
        self._registry_schemas: dict[int, dict[str, Any]] = {}
        if schema_registry_url:
            from confluent_kafka.schema_registry import SchemaRegistryClient

            self._registry = SchemaRegistryClient({"url": schema_registry_url})

    def _parsed(self, file_name: str) -> dict[str, Any]:
        if file_name not in self._schemas_by_file:
            self._schemas_by_file[file_name] = load_parsed_schema(file_name)
        return self._schemas_by_file[file_name]

    def _latest_entry(self, subject: str) -> CatalogEntry:
        entries = [e for e in self._entries if e.subject == subject]
        if not entries:
            raise SchemaCatalogError(f"no schema named {subject!r} in the catalog")
        return max(entries, key=lambda e: e.version)

    def subjects(self) -> list[str]:
        """The top-level messages the catalog names."""
        return sorted({entry.subject for entry in self._entries})

    def reader_schema(self, subject: str) -> dict[str, Any]:
        """The current (newest) schema of a subject: what this code reads and writes."""
        return self._parsed(self._latest_entry(subject).file)

    def _writer_id(self, subject: str) -> int:
        entry = self._latest_entry(subject)
        if self._registry is None:
            return entry.schema_id
        if subject not in self._registry_ids:
            from confluent_kafka.schema_registry import Schema

            text = json.dumps(self._parsed(entry.file))
            self._registry_ids[subject] = self._registry.register_schema(
                f"{subject}-value", Schema(text, "AVRO")
            )
        return self._registry_ids[subject]

    def _writer_schema(self, schema_id: int) -> dict[str, Any]:
        if self._registry is None:
            for entry in self._entries:
                if entry.schema_id == schema_id:
                    return self._parsed(entry.file)
            raise SchemaCatalogError(f"schema id {schema_id} is not in the catalog")
        if schema_id not in self._registry_schemas:
            registered = self._registry.get_schema(schema_id)
            self._registry_schemas[schema_id] = fastavro.parse_schema(
                json.loads(registered.schema_str)
            )
        return self._registry_schemas[schema_id]

    def encode(self, subject: str, record: dict[str, Any]) -> bytes:
        """Frame ``record`` with the subject's current schema.

        A field whose type is a union of several records (``payload``) takes a
        ``(full_name, value)`` tuple, e.g. ``("pipeline.Invoice", {...})``, and decodes
        back to the same tuple.
        """
        buffer = io.BytesIO()
        buffer.write(_HEADER.pack(MAGIC_BYTE, self._writer_id(subject)))
        fastavro.schemaless_writer(buffer, self.reader_schema(subject), record)
        return buffer.getvalue()

    def decode(self, subject: str, data: bytes) -> dict[str, Any]:
        """Read a framed record written with any known version of the subject."""
        if data is None or len(data) < _HEADER.size:
            raise WireFormatError("record is shorter than the wire-format header")
        magic, schema_id = _HEADER.unpack_from(data)
        if magic != MAGIC_BYTE:
            raise WireFormatError(f"unknown magic byte {magic}")
        writer = self._writer_schema(schema_id)
        try:
            return fastavro.schemaless_reader(
                io.BytesIO(data[_HEADER.size :]),
                writer,
                self.reader_schema(subject),
                return_record_name=True,
                return_record_name_override=True,
            )
        except Exception as exc:
            # Bytes that frame well but hold no valid record make fastavro fail in many
            # ways (EOFError, ValueError, an enum or union index out of range, a
            # timestamp out of range): all of them mean the record cannot be read.
            raise WireFormatError(
                f"cannot read {subject} with schema id {schema_id}: {exc}"
            ) from exc
