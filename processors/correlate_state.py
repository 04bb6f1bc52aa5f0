"""The correlate stage's state: one table, a namespace per concern, and a write-ahead
entry per input record that makes a crash at any point recoverable.

Why one table
-------------
The stage's state changes reach Kafka as changelog records, its outputs as records of
other topics, and its input offset is committed later still. A worker killed in between
restarts from the last committed offset with state that may already hold the effects of
the records it reads again. Re-processing such a record against that state is wrong:
some outputs exist only on a first pass (an account merge, a profile revision, a held
event's release), so they would never be published.

So every input record's *state changes and outputs* are written first, as one entry
(``journal/<offset>``), and only then the changes themselves. All of it goes to one
Faust table, hence one changelog partition, and a producer keeps the order of the
records it sends to one partition; local RocksDB writes keep program order too. After a
crash, whatever survived is therefore a prefix of that sequence: if any change of a
record survived, so did its entry. A record whose entry exists is not processed again:
its changes are written again (they are absolute values, so this repairs a half-written
record and is harmless otherwise) and its outputs are re-sent as they were.

Entries live in ``journal_span`` slots: the entry of offset ``o`` is written to slot
``o % journal_span`` and names its offset, so writing it replaces the entry of offset
``o - journal_span`` without a separate delete (one changelog record per input record
fewer, and no read of the old entry). The span must exceed the offsets processed
between two offset commits: offsets, not records, since a topic written in
transactions or compacted skips some.

An entry can be large (a burst of held events released by one record carries all their
changes and records), larger than one Kafka message may be. It is written as JSON text
in parts of at most ``ENTRY_PART_CHARS``: the tail parts first, then the head part,
which names its offset and how many parts there are. A head that survived a crash
therefore has all its parts. A slot's tail parts beyond what its newest entry uses are
left as they are (at most one entry's worth per slot) and never read.

Layout of the table: ``<namespace>/<key of that concern's store>`` for the state,
``journal/<slot>`` -> ``{"offset": o, "parts": n, "text": <first part>}`` and
``journal/<slot>/<k>`` -> ``<part k>`` for k = 1..n-1, where the text joined is
``{"set": {key: value}, "deleted": [key], "outputs": [[topic role, Kafka key, base64
record, headers]]}``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, MutableMapping
from typing import Any

from processors.correlate import CorrelatorStores
from processors.table_buffer import TableBuffer

# (topic role, Kafka key, encoded record, headers of the record).
JournalledOutput = tuple[str, str, bytes, dict[str, str]]

JOURNAL = "journal/"
DEFAULT_JOURNAL_SPAN = 20_000
# Well below the 1 MB a Kafka record may have by default, JSON framing included.
ENTRY_PART_CHARS = 256_000


class Namespace(MutableMapping[str, Any]):
    """The keys of ``table`` under ``prefix``, seen without the prefix."""

    def __init__(self, table: MutableMapping[str, Any], prefix: str) -> None:
        self._table = table
        self._prefix = prefix

    def __getitem__(self, key: str) -> Any:
        return self._table[self._prefix + key]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and (self._prefix + key) in self._table

    def __setitem__(self, key: str, value: Any) -> None:
        self._table[self._prefix + key] = value

    def __delitem__(self, key: str) -> None:
        del self._table[self._prefix + key]

    def __iter__(self) -> Iterator[str]:
        size = len(self._prefix)
        return (k[size:] for k in list(self._table) if k.startswith(self._prefix))

    def __len__(self) -> int:
        return sum(1 for _ in self)


class CorrelateState:
    """The stage's stores over one table, committed per input record."""

    def __init__(
        self, table: MutableMapping[str, Any], journal_span: int = DEFAULT_JOURNAL_SPAN
    ) -> None:
        if journal_span < 1:
            # Zero would fail on every record, a negative span would number slots
            # below zero: refused here, before the first record.
            raise ValueError(
                f"the correlate journal span must be at least 1, not {journal_span}"
            )
        self._table = table
        self._pending = TableBuffer(table)
        self._journal_span = journal_span

    def correlator_stores(self) -> CorrelatorStores:
        return CorrelatorStores(
            identity=self.namespace("identity/"),
            profiles=self.namespace("profiles/"),
            records=self.namespace("records/"),
            usage=self.namespace("usage/"),
        )

    def namespace(self, prefix: str) -> Namespace:
        """A store whose changes wait for ``commit`` (or vanish with ``discard``)."""
        return Namespace(self._pending, prefix)

    def replayed(self, offset: int) -> list[JournalledOutput] | None:
        """For a record processed before: restore its changes, return its outputs.

        None when the record at ``offset`` was never processed.
        """
        entry = self._read_entry(offset)
        if entry is None:
            return None
        for key, value in entry["set"].items():
            self._table[key] = value
        for key in entry["deleted"]:
            if key in self._table:
                del self._table[key]
        return [
            (role, key, base64.b64decode(record), dict(headers))
            for role, key, record, headers in entry["outputs"]
        ]

    def commit(self, offset: int, outputs: list[JournalledOutput]) -> None:
        """Write the record's entry (over the one a span back), then its changes."""
        changed, deleted = self._pending.pending_changes()

        # 1. the write-ahead entry: changes and outputs together
        self._write_entry(
            offset,
            {
                "set": changed,
                "deleted": deleted,
                "outputs": [
                    [role, key, base64.b64encode(record).decode("ascii"), headers]
                    for role, key, record, headers in outputs
                ],
            },
        )
        # 2. the changes
        self._pending.flush()

    def _write_entry(self, offset: int, entry: dict[str, Any]) -> None:
        text = json.dumps(entry, separators=(",", ":"))
        parts = [
            text[start : start + ENTRY_PART_CHARS]
            for start in range(0, len(text), ENTRY_PART_CHARS)
        ] or [""]
        slot = self._slot(offset)
        # The tail parts first: the head is written last and names how many there are.
        for number, part in enumerate(parts[1:], start=1):
            self._table[f"{slot}/{number}"] = part
        self._table[slot] = {"offset": offset, "parts": len(parts), "text": parts[0]}

    def _read_entry(self, offset: int) -> dict[str, Any] | None:
        slot = self._slot(offset)
        head = self._table.get(slot)
        # A slot holding another offset's entry (or none): this record has none.
        if head is None or head.get("offset") != offset:
            return None
        tail = [self._table[f"{slot}/{number}"] for number in range(1, head["parts"])]
        entry: dict[str, Any] = json.loads(head["text"] + "".join(tail))
        return entry

    def _slot(self, offset: int) -> str:
        return f"{JOURNAL}{offset % self._journal_span}"

    def savepoint(self) -> dict[str, Any]:
        return self._pending.savepoint()

    def rollback(self, savepoint: dict[str, Any]) -> None:
        """Drop the changes made since ``savepoint``, keep the record's others."""
        self._pending.rollback(savepoint)

    def discard(self) -> None:
        """Drop the changes of a record that failed half-way."""
        self._pending.discard()
