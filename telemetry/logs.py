"""Structured logs: one line per event of interest, with the current trace and span ids.

On a terminal lines are compact text; otherwise (files, CI, containers) each line is a
JSON object. Fields are passed through the shared redaction policy
(``telemetry.redaction``), so a careless ``extra={"email": ...}`` never reaches the log.

Libraries repeat themselves: while the broker restarts, aiokafka logs a failed
connection several hundred times a second, and Faust logs every time its producer
buffer is over 100 messages. ``RepeatedLineFilter`` lets the first such line through,
holds back the same line (numbers aside) from the same library logger for
``REPEAT_WINDOW_SECONDS``, and puts the number held back on the next line it lets
through (``repeats_suppressed``). An error is the same line only when its whole text
is: one naming another partition, offset or reason is let through. The project's own
lines are never held back: each is an event of interest.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Callable
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


REPEAT_WINDOW_SECONDS = 30.0
LIBRARY_LOGGERS = (
    "aiokafka",
    "faust",
    "mode",
    "librdkafka",
    "kafka",
    "asyncio",
    "httpx",
    "httpcore",
    "uvicorn",
)
_NUMBERS = re.compile(r"\d+")
_ADDRESSES = re.compile(r"0x[0-9a-fA-F]+")


class RepeatedLineFilter(logging.Filter):
    """Hold back a library's repeated line; count what was held back."""

    def __init__(
        self,
        window_seconds: float = REPEAT_WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._window = window_seconds
        self._clock = clock
        # (logger, level, hash of the line's shape) -> (last let through, held)
        self._seen: dict[tuple[str, int, int], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(LIBRARY_LOGGERS):
            return True
        shape = _line_shape(record)
        if shape is None:
            return True
        # A hash, not the text: a library may log whole payloads.
        key = (record.name, record.levelno, hash(shape))
        now = self._clock()
        last = self._seen.get(key)
        if last is not None and now - last[0] < self._window:
            self._seen[key] = (last[0], last[1] + 1)
            return False
        if last is not None and last[1]:
            record.repeats_suppressed = last[1]
        if len(self._seen) > 1000:
            # Lines of many shapes: forget the old ones rather than grow.
            self._seen.clear()
        self._seen[key] = (now, 0)
        return True


def _line_shape(record: logging.LogRecord) -> str | None:
    """What makes two lines of one logger the same line; None when it has no text.

    Below error level the message with its numbers blanked: the repeats worth holding
    back (a buffer's size, a retry count, a port) differ only there, while a warning
    about another topic or group keeps its own line. An error
    counts as the same only with the same text, arguments included, so an error about
    another partition, offset or cause is never taken for a repeat.
    """
    try:
        if record.levelno >= logging.ERROR:
            text = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                # The same words over another exception are another error.
                text += f"\n{record.exc_info[1]!r}"
            # Object addresses aside: a repr of the same error is the same line.
            return _ADDRESSES.sub("0x#", text)
        return _NUMBERS.sub("#", record.getMessage())
    except Exception:
        # Let the handler meet the broken message and report it its own way.
        return None


def configure_logging(level: str = "INFO", stream: Any = None) -> None:
    """Route every logger to one handler with the structured formatter."""
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    is_terminal = hasattr(stream, "isatty") and stream.isatty()
    handler.setFormatter(TerminalFormatter() if is_terminal else JsonLineFormatter())
    handler.addFilter(RepeatedLineFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "aiokafka", "faust", "mode", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
