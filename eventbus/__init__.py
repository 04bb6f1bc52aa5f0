"""Kafka plumbing shared by producers, processors and sinks: Avro framing, topic names,
client configuration and the business-event envelope helpers."""

from eventbus.avro_codec import AvroCodec, SchemaCatalogError, WireFormatError
from eventbus.topics import Topics

__all__ = ["AvroCodec", "SchemaCatalogError", "Topics", "WireFormatError"]
