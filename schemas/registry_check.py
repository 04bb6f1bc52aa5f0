"""Compatibility of the working tree's top-level messages with a Schema Registry.

Each message of ``schemas/catalog.json`` is registered as ``<Message>-value`` (see
``eventbus.avro_codec``); the registry applies the subject's configured compatibility
mode. A subject the registry does not know yet has nothing to break.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

SUBJECT_NOT_FOUND = 40401


class RegistryClient(Protocol):
    def test_compatibility(self, subject_name: str, schema: Any) -> bool: ...


def registry_problems(
    client: RegistryClient, codec: Any, subjects: list[str]
) -> list[str]:
    """One line per message whose current schema the registry refuses."""
    from confluent_kafka.schema_registry import Schema
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    problems = []
    for subject in subjects:
        registry_subject = f"{subject}-value"
        schema = Schema(json.dumps(codec.reader_schema(subject)), "AVRO")
        try:
            compatible = client.test_compatibility(registry_subject, schema)
        except SchemaRegistryError as exc:
            if exc.error_code == SUBJECT_NOT_FOUND:
                continue
            problems.append(
                f"{registry_subject}: the registry could not check it: {exc}"
            )
            continue
        if not compatible:
            problems.append(
                f"{registry_subject}: incompatible with the registry's latest version "
                "under the subject's compatibility mode"
            )
    return problems
