"""Serving a process's metrics for Prometheus on 127.0.0.1, one port per process.

Settings: ``PIPELINE_METRICS__PORT`` (this process's port), else
``PIPELINE_METRICS__PORTS`` (JSON mapping of service name to port, so one environment
can serve several processes), else the default of the service below;
``PIPELINE_METRICS__HOST`` (loopback by default) and ``PIPELINE_METRICS__ENABLED``. A port that is taken is logged and metrics stay off: a
stage never stops because its metrics cannot be served.
"""

from __future__ import annotations

import logging

from opentelemetry import metrics
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from prometheus_client import start_http_server
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

logger = logging.getLogger(__name__)

DEFAULT_PORTS = {
    "producers": 9461,
    "webhooks": 9462,
    "processors": 9463,
    "odoo-sink": 9464,
}

_served = False


class MetricsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PIPELINE_METRICS__", extra="ignore")

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int | None = None
    ports: dict[str, int] = Field(default_factory=dict)

    def port_of(self, service_name: str) -> int:
        if self.port is not None:
            return self.port
        return self.ports.get(service_name, DEFAULT_PORTS.get(service_name, 0))


def serve_metrics(service_name: str, settings: MetricsSettings | None = None) -> int:
    """Install the meter provider and serve ``/metrics``; return the port (0: off)."""
    global _served
    settings = settings or MetricsSettings()
    if _served or not settings.enabled:
        return 0
    port = settings.port_of(service_name)
    if not port:
        return 0
    try:
        start_http_server(port, addr=settings.host)
    except OSError as error:
        logger.warning(
            "metrics endpoint %s:%s unavailable (%s); metrics are off",
            settings.host,
            port,
            error,
        )
        return 0
    provider = MeterProvider(
        resource=Resource.create({"service.name": service_name}),
        metric_readers=[PrometheusMetricReader()],
    )
    metrics.set_meter_provider(provider)
    _served = True
    logger.info("metrics served", extra={"host": settings.host, "port": port})
    return port
