"""Holding back a library's repeated lines must not cost an operator an error that
names a different partition or offset, nor break on a message that is not text."""

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


def _handler() -> tuple[logging.Handler, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLineFormatter())
    handler.addFilter(RepeatedLineFilter(window_seconds=30.0, clock=_Clock()))
    return handler, stream


def _emit(
    handler: logging.Handler, level: int, name: str, msg: object, *args: object
) -> None:
    record = logging.LogRecord(name, level, __file__, 1, msg, args, None)
    if handler.filter(record):
        handler.emit(record)


def _messages(stream: io.StringIO) -> list[str]:
    return [json.loads(line)["msg"] for line in stream.getvalue().splitlines()]


def test_errors_naming_different_partitions_are_each_let_through() -> None:
    handler, stream = _handler()
    for partition in (3, 5, 7):
        _emit(
            handler,
            logging.ERROR,
            "faust.tables.recovery",
            "Cannot recover partition %s at offset %s",
            partition,
            1200 + partition,
        )

    assert _messages(stream) == [
        "Cannot recover partition 3 at offset 1203",
        "Cannot recover partition 5 at offset 1205",
        "Cannot recover partition 7 at offset 1207",
    ]


def test_errors_with_different_reasons_in_their_arguments_are_each_let_through() -> (
    None
):
    handler, stream = _handler()
    _emit(handler, logging.ERROR, "mode.services", "Crashed reason=%r", "disk full")
    _emit(handler, logging.ERROR, "mode.services", "Crashed reason=%r", "auth failed")

    assert len(_messages(stream)) == 2


def test_the_same_error_repeated_is_still_held_back() -> None:
    handler, stream = _handler()
    for _ in range(200):
        _emit(
            handler,
            logging.ERROR,
            "aiokafka.conn",
            "Unable connect to node with id %s: %s",
            1,
            "[Errno 111] Connect call failed ('127.0.0.1', 9092)",
        )

    assert len(_messages(stream)) == 1


def test_a_message_that_is_not_text_does_not_break_the_caller() -> None:
    class Unprintable:
        def __str__(self) -> str:
            raise RuntimeError("no text")

    handler, _ = _handler()
    record = logging.LogRecord(
        "aiokafka", logging.WARNING, __file__, 1, Unprintable(), None, None
    )

    # The filter lets it through; the handler's own error handling deals with it.
    assert handler.filter(record)
    _emit(handler, logging.WARNING, "aiokafka", 12345)
    _emit(handler, logging.WARNING, "aiokafka", {"node": 1})


def test_errors_differing_only_in_object_addresses_are_held_back() -> None:
    handler, stream = _handler()
    for attempt in range(20):
        _emit(
            handler,
            logging.ERROR,
            "aiokafka.producer.sender",
            "Cannot send %s: %s",
            f"<MetadataRequest object at 0x7f3a{attempt:04x}>",
            "NodeNotReadyError",
        )

    assert len(_messages(stream)) == 1


def test_the_same_words_over_different_exceptions_are_each_let_through() -> None:
    handler, stream = _handler()
    for error in (TimeoutError("no answer"), PermissionError("denied"), KeyError(3)):
        try:
            raise error
        except Exception as raised:  # noqa: BLE001 - the library's own handler
            record = logging.LogRecord(
                "faust.agents",
                logging.ERROR,
                __file__,
                1,
                "Agent error",
                None,
                (type(raised), raised, raised.__traceback__),
            )
        if handler.filter(record):
            handler.emit(record)

    assert _messages(stream) == ["Agent error"] * 3
