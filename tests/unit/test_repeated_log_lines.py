"""A library repeating one line is heard once per window, with a count; the project's
own lines always get through."""

from __future__ import annotations

import io
import json
import logging

from telemetry.logs import JsonLineFormatter, RepeatedLineFilter


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _handler(clock: _Clock) -> tuple[logging.Handler, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLineFormatter())
    handler.addFilter(RepeatedLineFilter(window_seconds=30.0, clock=clock))
    return handler, stream


def _emit(handler: logging.Handler, name: str, msg: str, *args: object) -> None:
    record = logging.LogRecord(name, logging.WARNING, __file__, 1, msg, args, None)
    if handler.filter(record):
        handler.emit(record)


def _lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_library_line_repeated_in_a_window_is_let_through_once_then_counted() -> None:
    clock = _Clock()
    handler, stream = _handler(clock)
    for attempt in range(500):
        clock.now += 0.01
        _emit(handler, "aiokafka", "Unable connect to node with id %s: %s", 1, attempt)
    clock.now += 30.0
    _emit(handler, "aiokafka", "Unable connect to node with id %s: %s", 1, 999)

    lines = _lines(stream)
    assert len(lines) == 2
    assert "repeats_suppressed" not in lines[0]
    assert lines[1]["repeats_suppressed"] == 499


def test_lines_that_differ_only_in_numbers_count_as_the_same_line() -> None:
    clock = _Clock()
    handler, stream = _handler(clock)
    for size in range(101, 140):
        _emit(handler, "faust.transport.producer", f"producer buffer full size {size}")
    _emit(handler, "faust.transport.producer", "producer flush took 0.2")

    assert [line["msg"] for line in _lines(stream)] == [
        "producer buffer full size 101",
        "producer flush took 0.2",
    ]


def test_the_projects_own_lines_are_never_held_back() -> None:
    clock = _Clock()
    handler, stream = _handler(clock)
    for _ in range(50):
        _emit(handler, "processors.identity", "accounts joined")

    assert len(_lines(stream)) == 50


def test_a_warning_about_another_topic_is_its_own_line() -> None:
    clock = _Clock()
    handler, stream = _handler(clock)
    for topic in ("source.billing", "source.billing", "source.crm"):
        _emit(handler, "aiokafka", "Not authorized to read from topic %s.", topic)

    assert [line["msg"] for line in _lines(stream)] == [
        "Not authorized to read from topic source.billing.",
        "Not authorized to read from topic source.crm.",
    ]
