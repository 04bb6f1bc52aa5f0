"""Check, before an operator command starts its work, that Kafka answers at all.

librdkafka keeps reconnecting to a bootstrap server that refuses or ignores it and only
gives up when the caller's own timeout runs out, which for the look-back tools is the
30 s they allow a slow but live broker. A short metadata request first tells "nothing
there" apart from "slow": the command can then say which address did not answer, within
``BROKER_ANSWER_SECONDS``, instead of failing half a minute later inside a client call.
When every bootstrap server refuses the connection outright (nothing listens there),
waiting longer cannot help, and the check says so after its first half-second attempt.
"""

from __future__ import annotations

import logging
import time

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

from eventbus.kafka_config import admin_config
from pipeline.settings import KafkaSettings

logger = logging.getLogger(__name__)

# A live broker answers a metadata request in milliseconds, one still electing its
# controller within a few seconds; ten leaves room for a loaded machine.
BROKER_ANSWER_SECONDS = 10.0
# The metadata request is sent again in slices of this length; between them a cluster
# whose every bootstrap server refused the connection is reported at once.
ATTEMPT_SECONDS = 0.5


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

    A cluster whose every bootstrap server refuses the connection is reported within
    about ``ATTEMPT_SECONDS``; one that does not answer at all (packets dropped) within
    ``timeout``.

    Raises KafkaUnreachableError when no answer comes, or when the cluster refuses the
    client (for example its credentials); KafkaClientRefusedError (one of them) when no
    client can be made from the settings.
    """
    refusals = _Refusals()
    try:
        admin = AdminClient({**admin_config(kafka), "error_cb": refusals.note})
    except KafkaException as exc:
        raise KafkaClientRefusedError(kafka.bootstrap_servers, _reason(exc)) from exc
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        try:
            admin.list_topics(timeout=max(min(ATTEMPT_SECONDS, remaining), 0.01))
        except KafkaException as exc:
            # With a logger configured, librdkafka's error reports wait for a poll.
            admin.poll(0)
            if refusals.all_brokers_down or remaining <= ATTEMPT_SECONDS:
                reason = refusals.last_connection_error or _reason(exc)
                raise KafkaUnreachableError(
                    kafka.bootstrap_servers, timeout, reason
                ) from exc
            continue
        logger.debug("kafka answers at %s", kafka.bootstrap_servers)
        return


class _Refusals:
    """What librdkafka reported while the metadata request waited."""

    def __init__(self) -> None:
        self.all_brokers_down = False
        self.last_connection_error: str | None = None

    def note(self, error: KafkaError) -> None:
        if error.code() == KafkaError._ALL_BROKERS_DOWN:
            self.all_brokers_down = True
        else:
            self.last_connection_error = error.str()


def _reason(exc: KafkaException) -> str:
    """librdkafka's own words for the failure (they name no credentials)."""
    error = exc.args[0] if exc.args else None
    return error.str() if hasattr(error, "str") else str(exc)
