"""Failures of the producer adapters.

::

    ProducerError
    ├── PayloadError      a validated record lacks what its mapping needs
    └── PublishError      Kafka did not acknowledge one or more records

A bad input line is never an exception to the caller of ``read_corpus``: it becomes a
``RejectedLine``. ``PayloadError`` only travels from an adapter to that conversion.
"""

from __future__ import annotations


class ProducerError(Exception):
    """Base class of every producer-adapter failure."""


class PayloadError(ProducerError):
    """A record passed validation but cannot be mapped to a business event."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class PublishError(ProducerError):
    """Kafka did not acknowledge records; the message names how many and why."""
