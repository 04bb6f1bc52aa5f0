"""Holding events back for a while so each account's events apply in event-time order.

Deliveries arrive out of order (a webhook retried, an export read late). The correlate
stage therefore does not apply an event when it arrives: the event waits here, and
events leave in their ordering key's order (``record_versions.ordering_key``: event
time, then the documented tie-breaks, last the event id).

When an event leaves
--------------------
Time here is *arrival* time: the Kafka timestamp of the record that brought the event
(or of a tick record, which the worker sends while events are held). Using record
timestamps instead of the wall clock makes a replay of the same topic decide the same.

* An event is *due* once it has been held for ``hold`` (``arrival + hold <= now``).
* Events leave in ordering-key order: an event leaves once it is due and every held
  event ordered before it is due too. So if two events arrive out of order by less than
  ``hold``, the older is in the buffer before the newer may leave, and goes first.
  Nothing leaves before its own hold, whatever other events' clocks say.
* An event held for ``2 * hold`` leaves whatever is ordered before it: an event ordered
  before it that is not due yet arrived more than ``hold`` after it, beyond the
  promise, and a source running behind must not stall everyone else.
* Each account (the canonical account of the event's anchor when it arrived) holds at
  most ``max_per_account`` events; beyond that its oldest events leave early.
* A payment waits for its invoice: a due event whose ``awaits`` record is not known yet
  stays until that record exists or until ``dependency_wait`` has passed since it
  arrived (then it leaves anyway and the invoice picks its refunds up when it comes).

An event whose key is not above the last key released for its account arrived later
than the hold allowed (accounts are compared as they are now: an identifier first held
under its own name counts as the account it has joined since, an absorbed account as
its survivor); it is not held (holding it cannot restore the order) and is
*late*: the caller applies it under its event type's late policy at once.

Store layout (one namespace of the correlate stage's state table)::

    held:<input offset> -> held event (see ``HeldEvent.as_stored``)
    released:<account>  -> ordering key of the last event released for the account

The index in memory (a heap by ordering key, a queue by arrival, and the clock: the
newest arrival time seen) is rebuilt from the ``held:`` entries on start and whenever
the caller restores state behind its back. The clock is not stored: after a restart it
starts from the newest held arrival, and record timestamps move it on from there.
"""

from __future__ import annotations

import base64
import heapq
import logging
from collections import Counter, deque
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

HELD_PREFIX = "held:"
RELEASED_PREFIX = "released:"

# Why an event left the buffer.
HOLD_ELAPSED = "hold_elapsed"
BUFFER_FULL = "buffer_full"
DEPENDENCY_MET = "dependency_met"
DEPENDENCY_TIMEOUT = "dependency_timeout"
ARRIVED_LATE = "arrived_late"


@dataclass(frozen=True)
class HeldEvent:
    """One event waiting in the buffer, as the caller needs it back on release."""

    offset: int
    order: tuple[Any, ...]
    account: str
    arrival: int
    event_bytes: bytes
    trace_context: dict[str, str]
    awaits: str | None = None

    def as_stored(self) -> dict[str, Any]:
        return {
            "offset": self.offset,
            "order": list(self.order),
            "account": self.account,
            "arrival": self.arrival,
            "event": base64.b64encode(self.event_bytes).decode("ascii"),
            "trace_context": self.trace_context,
            "awaits": self.awaits,
        }

    @classmethod
    def from_stored(cls, stored: dict[str, Any]) -> HeldEvent:
        return cls(
            offset=int(stored["offset"]),
            order=tuple(stored["order"]),
            account=stored["account"],
            arrival=int(stored["arrival"]),
            event_bytes=base64.b64decode(stored["event"]),
            trace_context=dict(stored["trace_context"]),
            awaits=stored.get("awaits"),
        )


@dataclass(frozen=True)
class Release:
    """An event leaving the buffer: why, and how long it was held (microseconds)."""

    held: HeldEvent
    cause: str
    held_for: int


# Applies one released event; called in release order, so what an earlier release
# changed is visible to the readiness check of the next.
ApplyRelease = Callable[[Release], None]
# Whether the record a held event awaits (``HeldEvent.awaits``) exists by now.
IsKnown = Callable[[str], bool]


@dataclass
class _Index:
    # (ordering key, offset) of held events; entries already gone stay in the heap
    # until they reach its top.
    by_order: list[tuple[tuple[Any, ...], int]] = field(default_factory=list)
    by_arrival: deque[int] = field(default_factory=deque)
    entries: dict[int, HeldEvent] = field(default_factory=dict)
    per_account: Counter[str] = field(default_factory=Counter)
    # Due events that wait for a record, by offset.
    waiting: dict[int, HeldEvent] = field(default_factory=dict)
    # The newest arrival time seen (microseconds).
    now: int = 0


class ReorderBuffer:
    """Per-account event-time ordering with a bounded hold (see the module text)."""

    def __init__(
        self,
        store: MutableMapping[str, Any],
        hold_micros: int,
        max_per_account: int,
        dependency_wait_micros: int,
        current_account: Callable[[str], str] = lambda account: account,
    ) -> None:
        self._store = store
        self._current_account = current_account
        self._hold = hold_micros
        self._max_per_account = max_per_account
        self._dependency_wait = dependency_wait_micros
        self._index: _Index | None = None

    # -- reading ----------------------------------------------------------------------

    @property
    def depth(self) -> int:
        """Events held now."""
        return len(self._loaded().entries)

    @property
    def now(self) -> int:
        return self._loaded().now

    def is_late(self, account: str, order: tuple[Any, ...]) -> bool:
        """Whether an event with ``order`` comes after its account already moved on."""
        account = self._current_account(account)
        released = self._store.get(f"{RELEASED_PREFIX}{account}")
        return released is not None and order <= tuple(released)

    # -- changing ---------------------------------------------------------------------

    def admit(self, held: HeldEvent) -> bool:
        """Hold ``held``; False when it arrived late (it is then not held)."""
        index = self._loaded()
        self._advance_clock(held.arrival)
        if self.is_late(held.account, held.order):
            return False
        self._store[f"{HELD_PREFIX}{held.offset}"] = held.as_stored()
        self._add(index, held)
        return True

    def release(self, now: int, is_known: IsKnown, apply: ApplyRelease) -> int:
        """Let every event go that may go at ``now``; return how many went."""
        index = self._loaded()
        now = self._advance_clock(now)
        released = 0

        # 1. accounts over their bound give up their oldest events
        for account, count in list(index.per_account.items()):
            if count > self._max_per_account:
                released += self._release_oldest(
                    index, account, count - self._max_per_account, now, apply
                )

        # 2. due events in key order, and events held for twice the hold
        for held in self._leaving(index, now):
            if held.offset not in index.entries or held.offset in index.waiting:
                continue
            if held.awaits and not is_known(held.awaits):
                if now - held.arrival < self._dependency_wait:
                    index.waiting[held.offset] = held
                    continue
                released += self._let_go(index, held, DEPENDENCY_TIMEOUT, now, apply)
                continue
            released += self._let_go(index, held, HOLD_ELAPSED, now, apply)

        # 3. waiting events whose record came, or whose wait is over
        for held in sorted(index.waiting.values(), key=lambda h: h.order):
            assert held.awaits is not None
            if is_known(held.awaits):
                released += self._let_go(index, held, DEPENDENCY_MET, now, apply)
            elif now - held.arrival >= self._dependency_wait:
                released += self._let_go(index, held, DEPENDENCY_TIMEOUT, now, apply)
        return released

    def reload(self) -> None:
        """Forget the index; it is rebuilt from the store when next needed (after the
        caller discarded or restored the store's contents)."""
        self._index = None

    # -- internals --------------------------------------------------------------------

    def _leaving(self, index: _Index, now: int) -> list[HeldEvent]:
        """Held events that may leave at ``now``, in ordering-key order."""
        leaving: dict[int, HeldEvent] = {}
        # The due prefix of the key order.
        while index.by_order:
            _order, offset = index.by_order[0]
            held = index.entries.get(offset)
            if held is not None and held.offset not in index.waiting:
                if held.arrival + self._hold > now:
                    break
                leaving[offset] = held
            heapq.heappop(index.by_order)
        # Events held twice the hold, whatever is ordered before them.
        while index.by_arrival:
            held = index.entries.get(index.by_arrival[0])
            if held is not None and held.arrival + 2 * self._hold > now:
                break
            index.by_arrival.popleft()
            if held is not None and held.offset not in index.waiting:
                leaving[held.offset] = held
        return sorted(leaving.values(), key=lambda h: (h.order, h.offset))

    def _advance_clock(self, arrival: int) -> int:
        index = self._loaded()
        index.now = max(index.now, arrival)
        return index.now

    def _release_oldest(
        self, index: _Index, account: str, count: int, now: int, apply: ApplyRelease
    ) -> int:
        oldest = sorted(
            (h for h in index.entries.values() if h.account == account),
            key=lambda h: h.order,
        )[:count]
        for held in oldest:
            self._let_go(index, held, BUFFER_FULL, now, apply)
        return len(oldest)

    def _let_go(
        self, index: _Index, held: HeldEvent, cause: str, now: int, apply: ApplyRelease
    ) -> int:
        del self._store[f"{HELD_PREFIX}{held.offset}"]
        index.entries.pop(held.offset, None)
        index.waiting.pop(held.offset, None)
        index.per_account[held.account] -= 1
        if index.per_account[held.account] <= 0:
            del index.per_account[held.account]
        apply(Release(held, cause, max(0, now - held.arrival)))
        # After applying: the account the event's identifiers belong to now.
        if not self.is_late(held.account, held.order):
            account = self._current_account(held.account)
            self._store[f"{RELEASED_PREFIX}{account}"] = list(held.order)
        return 1

    def _add(self, index: _Index, held: HeldEvent) -> None:
        index.entries[held.offset] = held
        index.per_account[held.account] += 1
        heapq.heappush(index.by_order, (held.order, held.offset))
        index.by_arrival.append(held.offset)

    def _loaded(self) -> _Index:
        if self._index is not None:
            return self._index
        index = _Index()
        stored = [
            HeldEvent.from_stored(value)
            for key, value in self._store.items()
            if key.startswith(HELD_PREFIX)
        ]
        for held in sorted(stored, key=lambda h: (h.arrival, h.offset)):
            self._add(index, held)
            index.now = max(index.now, held.arrival)
        self._index = index
        if stored:
            logger.info("reorder buffer restored", extra={"held_events": len(stored)})
        return index
