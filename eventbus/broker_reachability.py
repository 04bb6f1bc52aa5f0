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


class KafkaClientRefusedError(KafkaUnreachableError):
    """librdkafka would not make a client from the settings (a CA file that is not
    there, an option it rejects), so no request was sent at all."""

    def __init__(self, bootstrap_servers: str, reason: str) -> None:
        Exception.__init__(
            self,
            f"cannot make a Kafka client for {bootstrap_servers} ({reason}); "
            "check the PIPELINE_KAFKA__ settings",
        )
        self.bootstrap_servers = bootstrap_servers
        self.reason = reason


def require_reachable_broker(
    kafka: KafkaSettings, timeout: float = BROKER_ANSWER_SECONDS
) -> None:
    """Return once the cluster answers a metadata request; raise if it does not in time.

    Raises KafkaUnreachableError when ``timeout`` seconds pass without an answer, or
    when the cluster refuses the client (for example its credentials);
    KafkaClientRefusedError (one of them) when no client can be made from the
    settings.
    """
    try:
        admin = AdminClient(admin_config(kafka))
    except KafkaException as exc:
        raise KafkaClientRefusedError(kafka.bootstrap_servers, _reason(exc)) from exc
    try:
        admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        raise KafkaUnreachableError(
            kafka.bootstrap_servers, timeout, _reason(exc)
        ) from exc
    logger.debug("kafka answers at %s", kafka.bootstrap_servers)


def _reason(exc: KafkaException) -> str:
    """librdkafka's own words for the failure (they name no credentials)."""
    error = exc.args[0] if exc.args else None
    return error.str() if hasattr(error, "str") else str(exc)
