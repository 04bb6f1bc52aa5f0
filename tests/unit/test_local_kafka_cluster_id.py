"""The dev broker's cluster id is always accepted by Kafka's storage tool."""

from __future__ import annotations

import base64
import re
import uuid
from unittest import mock

from devstack import local_kafka

# A leading "-" would be read by the storage tool as an option, not a value.
CLUSTER_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{21}$")


def test_generated_ids_are_base64url_of_16_bytes_and_never_start_with_a_dash() -> None:
    for _ in range(2000):
        cluster_id = local_kafka._random_cluster_id()
        assert CLUSTER_ID.match(cluster_id), cluster_id
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16


def test_an_id_starting_with_a_dash_is_drawn_again() -> None:
    # 0xf8 encodes to "-" as the first base64url character.
    dashed = uuid.UUID(bytes=bytes([0xF8]) + bytes(15))
    plain = uuid.UUID(bytes=bytes([0x10]) + bytes(15))
    with mock.patch.object(local_kafka.uuid, "uuid4", side_effect=[dashed, plain]):
        cluster_id = local_kafka._random_cluster_id()
    assert base64.urlsafe_b64encode(dashed.bytes).decode().startswith("-")
    assert cluster_id == base64.urlsafe_b64encode(plain.bytes).decode().rstrip("=")
