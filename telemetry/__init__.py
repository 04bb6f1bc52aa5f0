"""Operator-facing telemetry shared by every process: structured logs and traces."""

from telemetry.logs import configure_logging
from telemetry.tracing import configure_tracing

__all__ = ["configure_logging", "configure_tracing"]
