"""`schemas check` asks a configured Schema Registry about every current message."""

from __future__ import annotations

import json

from confluent_kafka.schema_registry.error import SchemaRegistryError

from eventbus.avro_codec import AvroCodec
from schemas.registry_check import registry_problems


class FakeRegistry:
    def __init__(self, refuse: set[str], unknown: set[str]) -> None:
        self.refuse, self.unknown = refuse, unknown
        self.asked: dict[str, dict] = {}

    def test_compatibility(self, subject_name: str, schema) -> bool:
        self.asked[subject_name] = json.loads(schema.schema_str)
        if subject_name in self.unknown:
            raise SchemaRegistryError(404, 40401, "Subject not found")
        return subject_name not in self.refuse


def test_every_message_is_checked_and_refusals_are_named() -> None:
    codec = AvroCodec()
    registry = FakeRegistry(
        refuse={"EnrichedEvent-value"}, unknown={"AuditEvent-value"}
    )

    problems = registry_problems(registry, codec, codec.subjects())

    assert set(registry.asked) == {f"{s}-value" for s in codec.subjects()}
    assert registry.asked["BusinessEvent-value"]["name"] == "pipeline.BusinessEvent"
    assert len(problems) == 1 and problems[0].startswith("EnrichedEvent-value")


def test_a_subject_the_registry_does_not_know_has_nothing_to_break() -> None:
    codec = AvroCodec()
    registry = FakeRegistry(
        refuse=set(), unknown={f"{s}-value" for s in codec.subjects()}
    )
    assert registry_problems(registry, codec, codec.subjects()) == []
