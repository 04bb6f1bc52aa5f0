"""The reorder buffer: events leave in event-time order once held long enough, accounts
are bounded, payments wait for their invoice, late arrivals are named, and a restarted
buffer over the same store decides the same."""

from __future__ import annotations

from typing import Any

from processors.reorder_buffer import (
    BUFFER_FULL,
    DEPENDENCY_MET,
    DEPENDENCY_TIMEOUT,
    HOLD_ELAPSED,
    HeldEvent,
    Release,
    ReorderBuffer,
)

HOLD = 1_000
WAIT = 5_000


def held(
    offset: int,
    occurred_at: int,
    arrival: int,
    account: str = "acct_a",
    awaits: str | None = None,
) -> HeldEvent:
    return HeldEvent(
        offset=offset,
        order=(occurred_at, 0, 1, f"evt_{offset}"),
        account=account,
        arrival=arrival,
        event_bytes=bytes([offset % 256]) * 3,
        trace_context={"traceparent": f"00-{offset:032x}-{offset:016x}-01"},
        awaits=awaits,
    )


class Recorder:
    def __init__(self, known: set[str] | None = None) -> None:
        self.released: list[Release] = []
        self.known = known if known is not None else set()

    def apply(self, release: Release) -> None:
        self.released.append(release)

    def is_known(self, record: str) -> bool:
        return record in self.known

    @property
    def offsets(self) -> list[int]:
        return [r.held.offset for r in self.released]


def buffer(store: dict[str, Any] | None = None, max_per_account: int = 100) -> Any:
    return ReorderBuffer(
        {} if store is None else store,
        hold_micros=HOLD,
        max_per_account=max_per_account,
        dependency_wait_micros=WAIT,
    )


def test_nothing_leaves_before_its_hold_has_passed() -> None:
    reorder, seen = buffer(), Recorder()

    assert reorder.admit(held(1, occurred_at=50, arrival=0))
    reorder.release(HOLD - 1, seen.is_known, seen.apply)

    assert seen.offsets == []
    assert reorder.depth == 1


def test_events_delivered_out_of_order_within_the_hold_leave_in_event_time() -> None:
    reorder, seen = buffer(), Recorder()
    for offset, occurred_at, arrival in [(1, 30, 0), (2, 10, 200), (3, 20, 900)]:
        reorder.admit(held(offset, occurred_at, arrival))
        reorder.release(arrival, seen.is_known, seen.apply)

    # The first arrival is due at HOLD, but older events are still within theirs.
    reorder.release(HOLD, seen.is_known, seen.apply)
    assert seen.offsets == []

    reorder.release(900 + HOLD, seen.is_known, seen.apply)

    assert seen.offsets == [2, 3, 1]
    assert {r.cause for r in seen.released} == {HOLD_ELAPSED}
    assert [r.held_for for r in seen.released] == [HOLD + 700, HOLD, HOLD + 900]
    assert reorder.depth == 0


def test_an_event_never_leaves_before_its_own_hold_whatever_its_time() -> None:
    reorder, seen = buffer(), Recorder()
    # A far-future event of one account is due; another account's events are not.
    reorder.admit(held(1, occurred_at=10**15, arrival=0, account="acct_future"))
    reorder.admit(held(2, occurred_at=20, arrival=HOLD - 10))
    reorder.admit(held(3, occurred_at=10, arrival=HOLD - 5))

    reorder.release(HOLD, seen.is_known, seen.apply)
    assert seen.offsets == []

    reorder.release(2 * HOLD, seen.is_known, seen.apply)
    assert seen.offsets == [3, 2, 1]


def test_an_event_held_twice_the_hold_leaves_whatever_is_ordered_before_it() -> None:
    reorder, seen = buffer(), Recorder()
    reorder.admit(held(1, occurred_at=50, arrival=0))
    # An older event arriving more than the hold later does not stall the first.
    reorder.admit(held(2, occurred_at=10, arrival=HOLD + 500))

    reorder.release(2 * HOLD - 1, seen.is_known, seen.apply)
    assert seen.offsets == []
    reorder.release(2 * HOLD, seen.is_known, seen.apply)

    assert seen.offsets == [1]
    assert reorder.depth == 1


def test_a_newer_event_still_within_its_hold_stays() -> None:
    reorder, seen = buffer(), Recorder()
    reorder.admit(held(1, occurred_at=10, arrival=0))
    reorder.admit(held(2, occurred_at=99, arrival=500))

    reorder.release(HOLD, seen.is_known, seen.apply)

    assert seen.offsets == [1]
    assert reorder.depth == 1


def test_an_event_older_than_what_its_account_released_is_late() -> None:
    reorder, seen = buffer(), Recorder()
    reorder.admit(held(1, occurred_at=50, arrival=0))
    reorder.release(HOLD, seen.is_known, seen.apply)

    assert not reorder.admit(held(2, occurred_at=40, arrival=HOLD + 1))
    # Another account has its own order.
    assert reorder.admit(held(3, occurred_at=40, arrival=HOLD + 1, account="acct_b"))
    assert reorder.depth == 1


def test_an_account_over_its_bound_gives_up_its_oldest_events_early() -> None:
    reorder, seen = buffer(max_per_account=2), Recorder()
    for offset, occurred_at in [(1, 30), (2, 10), (3, 20)]:
        reorder.admit(held(offset, occurred_at, arrival=offset))
    reorder.admit(held(4, occurred_at=5, arrival=4, account="acct_b"))

    reorder.release(4, seen.is_known, seen.apply)

    assert seen.offsets == [2]
    assert seen.released[0].cause == BUFFER_FULL
    assert reorder.depth == 3


def test_a_payment_waits_for_its_invoice_then_follows_it() -> None:
    reorder, seen = buffer(), Recorder()
    reorder.admit(held(1, occurred_at=10, arrival=0, awaits="invoice:in_1"))
    reorder.release(HOLD, seen.is_known, seen.apply)
    assert seen.offsets == []

    reorder.admit(held(2, occurred_at=20, arrival=HOLD + 10))
    seen.known.add("invoice:in_1")
    reorder.release(2 * HOLD + 10, seen.is_known, seen.apply)

    assert seen.offsets == [2, 1]
    assert seen.released[1].cause == DEPENDENCY_MET


def test_a_payment_whose_invoice_never_comes_leaves_after_the_wait() -> None:
    reorder, seen = buffer(), Recorder()
    reorder.admit(held(1, occurred_at=10, arrival=0, awaits="invoice:in_1"))

    reorder.release(WAIT - 1, seen.is_known, seen.apply)
    assert seen.offsets == []
    reorder.release(WAIT, seen.is_known, seen.apply)

    assert seen.offsets == [1]
    assert seen.released[0].cause == DEPENDENCY_TIMEOUT


def test_a_buffer_over_the_same_store_releases_the_same_events() -> None:
    store: dict[str, Any] = {}
    first = buffer(store)
    for offset, occurred_at, arrival in [(1, 30, 0), (2, 10, 200), (3, 99, 900)]:
        first.admit(held(offset, occurred_at, arrival))

    # A new buffer stands for the restarted worker: it knows only the store.
    restarted, seen = buffer(store), Recorder()
    restarted.release(200 + HOLD, seen.is_known, seen.apply)

    assert seen.offsets == [2, 1]
    assert seen.released[0].held == held(2, 10, 200)
    assert restarted.depth == 1
    assert restarted.now == 200 + HOLD


def test_the_clock_never_goes_back() -> None:
    reorder, seen = buffer(), Recorder()
    reorder.admit(held(1, occurred_at=10, arrival=5_000))
    reorder.release(10, seen.is_known, seen.apply)

    assert reorder.now == 5_000
