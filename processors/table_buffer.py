"""One event's reads and writes against a table, each key read once and written once.

Processing one event reads the same keys several times (the identity graph walks a
component's nodes, the profile builder reads every member's facts) and rewrites some of
them several times (the creation sequence, a component's record). Against a Faust table
every read decodes JSON from RocksDB and every write encodes JSON, writes RocksDB and
sends a changelog record. ``TableBuffer`` sits between the core and a table for the
duration of one event: reads are cached, writes and deletes are kept, and ``flush``
writes each changed key once, in the order keys were first changed.

Values handed out are the cached objects themselves; the core copies before it changes
a value and re-assigns every changed value, which is what makes sharing them safe.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

_ABSENT = object()


class TableBuffer(MutableMapping[str, Any]):
    """A write-back cache over ``table`` for one event at a time."""

    def __init__(self, table: MutableMapping[str, Any]) -> None:
        self._table = table
        self._read: dict[str, Any] = {}
        self._changed: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        if key in self._changed:
            value = self._changed[key]
        elif key in self._read:
            value = self._read[key]
        else:
            value = self._table.get(key, _ABSENT)
            self._read[key] = value
        if value is _ABSENT:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        try:
            self[key]
        except KeyError:
            return False
        return True

    def __setitem__(self, key: str, value: Any) -> None:
        self._changed[key] = value

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        self._changed[key] = _ABSENT

    def __iter__(self) -> Iterator[str]:
        # Only keys: reading every value of a large table to list its keys would
        # decode all of it.
        keys = dict.fromkeys(self._table.keys())
        keys.update(dict.fromkeys(self._changed))
        return (key for key in keys if self._changed.get(key) is not _ABSENT)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def pending_changes(self) -> tuple[dict[str, Any], list[str]]:
        """The values to write and the keys to delete, as ``flush`` would."""
        changed = {k: v for k, v in self._changed.items() if v is not _ABSENT}
        deleted = [k for k, v in self._changed.items() if v is _ABSENT]
        return changed, deleted

    def flush(self) -> int:
        """Write every changed key to the table once; return how many were written."""
        written = 0
        for key, value in self._changed.items():
            if value is _ABSENT:
                if key in self._table:
                    del self._table[key]
                    written += 1
            else:
                self._table[key] = value
                written += 1
        self.discard()
        return written

    def savepoint(self) -> dict[str, Any]:
        """The changes so far, to go back to with ``rollback``."""
        return dict(self._changed)

    def rollback(self, savepoint: dict[str, Any]) -> None:
        """Drop the changes made since ``savepoint`` (one event of several failed)."""
        self._changed = dict(savepoint)
        self._read.clear()

    def discard(self) -> None:
        """Forget the event's reads and changes (an event that failed half-way)."""
        self._read.clear()
        self._changed.clear()
