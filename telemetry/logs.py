"""Structured logs: one line per event of interest, with the current trace and span ids.

On a terminal lines are compact text; otherwise (files, CI, containers) each line is a
JSON object. Fields are passed through the shared redaction policy
(``telemetry.redaction``), so a careless ``extra={"email": ...}`` never reaches the log.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace

from telemetry.redaction import redact

_STANDARD_ATTRIBUTES = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {
        key: redact(key, value)
        for key, value in vars(record).items()
        if key not in _STANDARD_ATTRIBUTES and not key.startswith("_")
    }


def _trace_ids() -> dict[str, str]:
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {
        "trace_id": f"{context.trace_id:032x}",
        "span_id": f"{context.span_id:016x}",
    }


class JsonLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **_trace_ids(),
            **_fields(record),
        }
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class TerminalFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extras = {**_trace_ids(), **_fields(record)}
        if "trace_id" in extras:
            extras["trace_id"] = extras["trace_id"][:8]
            extras.pop("span_id", None)
        tail = " ".join(f"{k}={v}" for k, v in extras.items())
        text = f"{record.levelname[0]} {record.name}: {record.getMessage()}"
        if tail:
            text = f"{text}  {tail}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def configure_logging(level: str = "INFO", stream: Any = None) -> None:
    """Route every logger to one handler with the structured formatter."""
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    is_terminal = hasattr(stream, "isatty") and stream.isatty()
    handler.setFormatter(TerminalFormatter() if is_terminal else JsonLineFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "aiokafka", "faust", "mode", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
