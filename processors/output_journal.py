"""What the correlate stage published for each input record, kept for replays.

The correlate stage's state changes are written to its tables as soon as an event is
processed, but its outputs sit in the producer's buffer until they are sent; the input
offset is committed later still. A worker killed in between restarts from the last
committed offset with state that already holds the effects of the events it reads
again. The state transitions are idempotent, but some outputs are only produced on the
first pass (an account merge, a profile revision, an invoice re-published for a
refund), so re-processing would not publish them again and, if the first pass never
reached the broker, they would be lost.

So the outputs of every input record are journalled in the same store as the state,
keyed by the record's offset, before they are sent. A record whose offset is already in
the journal is not processed again: its journalled outputs are re-published as they
were. Entries older than ``span`` offsets are dropped as the stream moves on; the span
must exceed the records processed between two offset commits.

Outputs are journalled encoded (Avro wire format, base64 in the JSON store) with the
headers of their own (a late event's reason), so a replay re-sends the very bytes of the
first pass, trace context included.

Store layout: ``offset:<offset>`` -> list of ``[topic role, key, base64 record,
headers]``.
"""

from __future__ import annotations

import base64
from collections.abc import MutableMapping
from typing import Any

# (topic role, Kafka key, encoded record, headers of the record's own).
JournalledOutput = tuple[str, str, bytes, dict[str, str]]

DEFAULT_SPAN = 50_000


class OutputJournal:
    """Outputs per input offset, for the last ``span`` offsets of one partition."""

    def __init__(
        self, store: MutableMapping[str, Any], span: int = DEFAULT_SPAN
    ) -> None:
        self._store = store
        self._span = span

    def replayed(self, offset: int) -> list[JournalledOutput] | None:
        """The outputs recorded for ``offset``, or None when it was never processed."""
        entry = self._store.get(f"offset:{offset}")
        if entry is None:
            return None
        return [
            (role, key, base64.b64decode(record), dict(headers))
            for role, key, record, headers in entry
        ]

    def record(self, offset: int, outputs: list[JournalledOutput]) -> None:
        """Keep ``outputs`` for ``offset``; forget the entry ``span`` offsets back."""
        self._store[f"offset:{offset}"] = [
            [role, key, base64.b64encode(record).decode("ascii"), headers]
            for role, key, record, headers in outputs
        ]
        expired = f"offset:{offset - self._span}"
        if expired in self._store:
            del self._store[expired]
