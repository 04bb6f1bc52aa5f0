"""Check, before an operator command starts its work, that Kafka answers at all.

librdkafka keeps reconnecting to a bootstrap server that refuses or ignores it and only
gives up when the caller's own timeout runs out, which for the look-back tools is the
30 s they allow a slow but live broker. A short metadata request first tells "nothing
there" apart from "slow": the command can then say which address did not answer, within
``BROKER_ANSWER_SECONDS``, instead of failing half a minute later inside a client call.
"""

from __future__ import annotations

import logging

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from eventbus.kafka_config import admin_config
from pipeline.settings import KafkaSettings

logger = logging.getLogger(__name__)

# A live broker answers a metadata request in milliseconds, one still electing its
# controller within a few seconds; ten leaves room for a loaded machine.
BROKER_ANSWER_SECONDS = 10.0


class KafkaUnreachableError(Exception):
    """No bootstrap server answered a metadata request in time.

    The message names the bootstrap servers (addresses only, never credentials) and
    librdkafka's reason.
    """

    def __init__(self, bootstrap_servers: str, seconds: float, reason: str) -> None:
        super().__init__(
            f"cannot reach Kafka at {bootstrap_servers} within {seconds:g}s ({reason}); "
            "check PIPELINE_KAFKA__BOOTSTRAP_SERVERS and that the broker runs"
        )
        self.bootstrap_servers = bootstrap_servers
        self.reason = reason


def require_reachable_broker(
    kafka: KafkaSettings, timeout: float = BROKER_ANSWER_SECONDS
) -> None:
    """Return once the cluster answers a metadata request; raise if it does not in time.

    Raises KafkaUnreachableError when ``timeout`` seconds pass without an answer, or
    when the cluster refuses the client (for example its credentials).
    """
    admin = AdminClient(admin_config(kafka))
    try:
        admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        reason = exc.args[0].str() if exc.args else str(exc)
        raise KafkaUnreachableError(kafka.bootstrap_servers, timeout, reason) from exc
    logger.debug("kafka answers at %s", kafka.bootstrap_servers)
