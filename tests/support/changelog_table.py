"""A stand-in for a Faust table that logs its writes in order, as the one changelog
partition of the correlate stage's state does; rebuilt from a prefix of that log, it is
what a worker recovers after a crash at that point."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any


class LoggedTable(MutableMapping[str, Any]):
    """A dict that logs every write in order, like the one changelog partition."""

    def __init__(self, writes: list[tuple[str, Any]] | None = None) -> None:
        self.data: dict[str, Any] = {}
        self.writes: list[tuple[str, Any]] = []
        # Rebuilt from a log of writes (None deletes), the way recovery reads one.
        for key, value in writes or []:
            if value is None:
                self.data.pop(key, None)
            else:
                self.data[key] = value

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.writes.append((key, value))
        self.data[key] = value

    def __delitem__(self, key: str) -> None:
        self.writes.append((key, None))
        del self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self.data))

    def __len__(self) -> int:
        return len(self.data)
