"""Attacks on the correlate stage's reorder buffer and its input handling.

Each test feeds the stage (``CorrelateStep`` over a dict-backed ``CorrelateState``, or
the bare ``ReorderBuffer``) input it is promised to survive, and checks the promise of
docs/processing.md that names it: bad records are logged and skipped without losing the
events around them, an account's events leave in event-time order when they arrive
within the hold of each other, a restarted buffer decides as the uninterrupted one,
bounded accounts and payments without an invoice leave without loss, and a late snapshot
goes to the late-events topic with its reason.
"""

from __future__ import annotations

import copy
import io
import logging
from collections.abc import Callable, Iterable
from typing import Any

import fastavro
import pytest

from eventbus import AvroCodec
from pipeline.settings import Settings
from processors.correlate import ENRICHED, LATE
from processors.correlate_agent import (
    MAX_CLOCK_AHEAD_MICROS,
    CorrelateStep,
)
from processors.correlate_state import CorrelateState, JournalledOutput
from processors.reorder_buffer import (
    BUFFER_FULL,
    HeldEvent,
    Release,
    ReorderBuffer,
)
from processors.stage_records import LATE_REASON_HEADER
from tests.support.business_events import (
    business_event,
    crm_contact,
    invoice_payload,
    refunded_charge_payload,
)
from tests.support.correlate_input import CORRELATE_TOPICS, ConsumedRecord, tick

SECOND = 1_000_000
DAY = 86_400 * SECOND
HOLD_SECONDS = 2.0
HOLD = int(HOLD_SECONDS * SECOND)
WAIT_SECONDS = 10.0
# Source time of the histories and arrival time of their records: unrelated clocks,
# as in production (a source's event time is not the broker's time).
T0 = 1_760_000_000 * SECOND
ARRIVAL = 1_700_000_000 * SECOND

codec = AvroCodec()


# -- events ----------------------------------------------------------------------------


def contact(record_id: str, modified_at: int, name: str) -> dict[str, Any]:
    """A CRM contact snapshot without a company: its own account."""
    return crm_contact(record_id, modified_at, name, created_at=T0)


def invoice(invoice_id: str, occurred_at: int) -> dict[str, Any]:
    payload = invoice_payload(
        invoice_id,
        "cus_att",
        number="INV-1",
        status="paid",
        charge_id="ch_att",
        paid=1000,
    )
    return business_event(
        f"evt_inv_{occurred_at}",
        "invoice.paid",
        occurred_at,
        ("pipeline.Invoice", payload),
        {"kind": "billing_customer", "id": "cus_att"},
        source_system="billing",
    )


def refund(invoice_id: str | None, occurred_at: int, refunded: int) -> dict[str, Any]:
    payload = refunded_charge_payload(
        "ch_att", invoice_id, "cus_att", refunded=refunded
    )
    return business_event(
        f"evt_ch_{occurred_at}",
        "charge.refunded",
        occurred_at,
        ("pipeline.Charge", payload),
        {"kind": "billing_customer", "id": "cus_att"},
        source_system="billing",
    )


def encoded(event: dict[str, Any]) -> bytes:
    return codec.encode("BusinessEvent", event)


def records_of(deliveries: Iterable[tuple[int, bytes]]) -> list[ConsumedRecord]:
    """``(arrival micros, value)`` deliveries as consecutive input records."""
    return [
        ConsumedRecord(offset, value, arrival / SECOND)
        for offset, (arrival, value) in enumerate(deliveries)
    ]


# -- running the stage -----------------------------------------------------------------


def stage(
    state: CorrelateState | None = None,
    wall_clock: Callable[[], int] = lambda: ARRIVAL + 30 * DAY,
    **processors: Any,
) -> CorrelateStep:
    settings = Settings(
        processors={
            "reorder_hold_seconds": HOLD_SECONDS,
            "reorder_dependency_wait_seconds": WAIT_SECONDS,
            **processors,
        }
    )
    # By default the worker's own clock reads a month after the records' arrival
    # times: none of them is ahead of it.
    return CorrelateStep(
        state or CorrelateState({}),
        settings,
        codec,
        CORRELATE_TOPICS,
        wall_clock=wall_clock,
    )


def feed(step: CorrelateStep, records: list[ConsumedRecord]) -> list[JournalledOutput]:
    """Run and commit each record; then tick until nothing is held."""
    outputs: list[JournalledOutput] = []
    for record in records:
        outputs += commit(step, record)
    offset = records[-1].offset + 1 if records else 0
    clock = step.buffer.now
    for _ in range(10_000):
        if not step.buffer.depth:
            break
        clock += HOLD
        outputs += commit(step, tick(offset, clock))
        offset += 1
    assert not step.buffer.depth, "ticks never ended the holds"
    return outputs


def commit(step: CorrelateStep, record: ConsumedRecord) -> list[JournalledOutput]:
    outputs = step.run(record)
    step.state.commit(record.offset, outputs)
    return outputs


def published_records(outputs: list[JournalledOutput]) -> list[tuple[str, str, int]]:
    """Enriched business records (not profiles) as (kind, id, version), in order."""
    published = []
    for role, _key, value, _headers in outputs:
        if role != ENRICHED:
            continue
        record = codec.decode("EnrichedEvent", value)
        if record["record_kind"] != "account_profile":
            published.append(
                (record["record_kind"], record["record_id"], record["version"])
            )
    return published


def late_outputs(outputs: list[JournalledOutput]) -> list[JournalledOutput]:
    return [output for output in outputs if output[0] == LATE]


def comparable(outputs: list[JournalledOutput]) -> list[tuple[str, str, Any]]:
    """Outputs without their trace context, which a tracer may make up per run."""
    result = []
    for role, key, value, headers in outputs:
        if role == ENRICHED:
            record = codec.decode("EnrichedEvent", value)
            record.pop("trace_context")
            result.append((role, key, record))
        else:
            result.append((role, key, (value, headers.get(LATE_REASON_HEADER))))
    return result


# -- the bare buffer -------------------------------------------------------------------


def held(offset: int, occurred_at: int, arrival: int, account: str) -> HeldEvent:
    return HeldEvent(
        offset=offset,
        order=(occurred_at, 0, 1, f"evt_{offset}"),
        account=account,
        arrival=arrival,
        event_bytes=bytes([offset % 256]),
        trace_context={},
    )


class Released:
    def __init__(self) -> None:
        self.releases: list[Release] = []

    def apply(self, release: Release) -> None:
        self.releases.append(release)

    @staticmethod
    def is_known(record: str) -> bool:
        return False

    @property
    def offsets(self) -> list[int]:
        return [release.held.offset for release in self.releases]


def bare_buffer(store: dict[str, Any]) -> ReorderBuffer:
    return ReorderBuffer(
        store, hold_micros=HOLD, max_per_account=100, dependency_wait_micros=5 * HOLD
    )


def test_an_account_ahead_in_event_time_does_not_end_another_accounts_hold() -> None:
    # Account a's event (a day ahead in source time) is released after its hold. Then
    # account b's two events arrive 0.1 s apart, out of order. The promise: two events
    # arriving less than the hold apart leave in event-time order, per account.
    reorder, seen = bare_buffer({}), Released()
    reorder.admit(held(1, occurred_at=T0 + DAY, arrival=ARRIVAL, account="acct_a"))
    reorder.release(ARRIVAL + HOLD, seen.is_known, seen.apply)
    assert seen.offsets == [1]

    newer_b = held(2, occurred_at=T0 + SECOND, arrival=ARRIVAL + HOLD, account="acct_b")
    older_b = held(
        3, occurred_at=T0, arrival=ARRIVAL + HOLD + 100_000, account="acct_b"
    )
    for event in (newer_b, older_b):
        admitted = reorder.admit(event)
        assert admitted, f"event {event.offset} of acct_b was turned away as late"
        reorder.release(event.arrival, seen.is_known, seen.apply)
    reorder.release(ARRIVAL + 3 * HOLD, seen.is_known, seen.apply)

    assert seen.offsets == [1, 3, 2]


def test_a_restarted_buffer_holds_an_arrival_like_the_uninterrupted_one() -> None:
    store: dict[str, Any] = {}
    running, seen = bare_buffer(store), Released()
    running.admit(held(1, occurred_at=T0 + DAY, arrival=ARRIVAL, account="acct_a"))
    running.release(ARRIVAL + HOLD, seen.is_known, seen.apply)
    # The worker is killed here; a new buffer over the same store stands for it.
    restarted, seen_after_restart = bare_buffer(copy.deepcopy(store)), Released()

    arrival = held(2, occurred_at=T0, arrival=ARRIVAL + HOLD + 1, account="acct_b")
    for buffer, recorder in ((running, seen), (restarted, seen_after_restart)):
        buffer.admit(arrival)
        buffer.release(arrival.arrival, recorder.is_known, recorder.apply)

    assert running.depth == restarted.depth
    assert seen.offsets[1:] == seen_after_restart.offsets


# -- ordering through the stage --------------------------------------------------------


def test_a_busy_account_does_not_send_another_accounts_snapshot_to_late() -> None:
    ahead = contact("c_ahead", T0 + 30 * DAY, "Ahead")
    newer = contact("c_behind", T0 + SECOND, "New")
    older = contact("c_behind", T0, "Old")
    arrivals = [ARRIVAL, ARRIVAL + HOLD + SECOND, ARRIVAL + HOLD + SECOND + 100_000]

    outputs = feed(
        stage(),
        records_of(zip(arrivals, map(encoded, [ahead, newer, older]), strict=True)),
    )

    behind = [r for r in published_records(outputs) if r[1] == "c_behind"]
    assert behind == [("contact", "c_behind", T0), ("contact", "c_behind", T0 + SECOND)]
    assert late_outputs(outputs) == []


def test_an_event_from_the_far_future_does_not_end_other_accounts_holds() -> None:
    # One source row with a wrong year (a valid long, a date Python can hold): once
    # it is due, no other account's event is held any more.
    wrong_year = contact("c_wrong_year", 253_402_300_799 * SECOND, "Year 9999")
    newer = contact("c_victim", T0 + SECOND, "New")
    older = contact("c_victim", T0, "Old")
    arrivals = [ARRIVAL, ARRIVAL + HOLD + SECOND, ARRIVAL + HOLD + SECOND + 100_000]
    events = [wrong_year, newer, older]

    outputs = feed(
        stage(), records_of(zip(arrivals, map(encoded, events), strict=True))
    )

    victim = [r for r in published_records(outputs) if r[1] == "c_victim"]
    assert victim == [("contact", "c_victim", T0), ("contact", "c_victim", T0 + SECOND)]


def test_a_tick_from_the_far_future_does_not_end_every_later_hold() -> None:
    newer = contact("c_tick", T0 + SECOND, "New")
    older = contact("c_tick", T0, "Old")
    # The worker's clock agrees with the producers' until it is moved below.
    wall = [ARRIVAL]
    step = stage(wall_clock=lambda: wall[0])
    # A tick record stamped a year ahead (a producer with a wrong clock, or a
    # hand-made record) moves the clock no further than a minute past the worker's.
    commit(step, tick(0, ARRIVAL + 365 * DAY))
    assert step.buffer.now == ARRIVAL + MAX_CLOCK_AHEAD_MICROS

    # Past that minute, holds work as before.
    wall[0] = ARRIVAL + 2 * MAX_CLOCK_AHEAD_MICROS
    events = [
        ConsumedRecord(1, encoded(newer), wall[0] / SECOND),
        ConsumedRecord(2, encoded(older), (wall[0] + 100_000) / SECOND),
    ]
    outputs = feed(step, events)

    assert published_records(outputs) == [
        ("contact", "c_tick", T0),
        ("contact", "c_tick", T0 + SECOND),
    ]


def test_a_tick_carrying_a_value_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    # A tick is a header and an empty value; a record with both is malformed, and if
    # its value is an event that event is never applied, so it must at least be named.
    step = stage()
    odd_tick = tick(0, ARRIVAL, value=encoded(contact("c_odd", T0, "Odd")))

    with caplog.at_level(logging.WARNING):
        outputs = feed(step, [odd_tick])

    applied = [r for r in published_records(outputs) if r[1] == "c_odd"]
    warned = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert applied or warned, "a tick carrying an event was dropped without a trace"


# -- bad records on processing.deduplicated --------------------------------------------


def _enum_index_beyond_the_symbols() -> bytes:
    """A framed BusinessEvent whose ``source_system`` enum index points past the
    schema's symbols: well-framed bytes that are not a valid record."""
    header = encoded(contact("c_any", T0, "Any"))[:5]
    body = io.BytesIO()
    fastavro.schemaless_writer(body, {"type": "string"}, "evt_bad")
    fastavro.schemaless_writer(body, {"type": "string"}, "crm.contact")
    fastavro.schemaless_writer(body, {"type": "int"}, 60)
    return header + body.getvalue() + b"\x00" * 32


def _timestamp_out_of_range() -> bytes:
    """A BusinessEvent whose ``occurred_at`` is a valid long that no date can hold."""
    return encoded(contact("c_bad_time", -(10**17), "Bad time"))


BAD_VALUES = {
    "not_avro": lambda: b"this is not avro at all",
    "empty": lambda: b"",
    "unknown_schema_id": lambda: b"\x00\x7f\xff\xff\xff" + b"\x00" * 16,
    "enum_index_beyond_symbols": _enum_index_beyond_the_symbols,
    "timestamp_out_of_range": _timestamp_out_of_range,
    "charge_without_invoice": lambda: encoded(refund(None, T0, 5)),
    "charge_with_empty_invoice_id": lambda: encoded(refund("", T0, 5)),
}


@pytest.mark.parametrize("bad", sorted(BAD_VALUES))
def test_a_bad_record_is_skipped_and_the_events_around_it_are_applied(
    bad: str,
) -> None:
    before = contact("c_around", T0, "Before")
    after = contact("c_around", T0 + SECOND, "After")
    clean = records_of([(ARRIVAL, encoded(before)), (ARRIVAL + 1, encoded(after))])
    attacked = records_of(
        [
            (ARRIVAL, encoded(before)),
            (ARRIVAL + 1, BAD_VALUES[bad]()),
            (ARRIVAL + 2, encoded(after)),
        ]
    )

    expected = published_records(feed(stage(), clean))
    outputs = feed(stage(), attacked)

    around = [r for r in published_records(outputs) if r[1] == "c_around"]
    assert around == expected


def track_call(message_id: str, occurred_at: int, quantity: int) -> dict[str, Any]:
    event = business_event(
        message_id,
        "track",
        occurred_at,
        (
            "pipeline.UsageEvent",
            {
                "message_id": message_id,
                "group_id": "ws_att",
                "user_id": "u_att",
                "event_name": "API Calls Metered",
                "quantity": quantity,
                "day": "ignored",
            },
        ),
        {"kind": "product_group", "id": "ws_att"},
        source_system="product",
    )
    return event


def overflowing_usage_records() -> list[ConsumedRecord]:
    """Two valid calls whose metered quantities add up beyond a long, then a tick
    that releases both, then an unrelated good event."""
    return [
        ConsumedRecord(0, encoded(track_call("m_1", T0, 2**62)), ARRIVAL / SECOND),
        ConsumedRecord(
            1, encoded(track_call("m_2", T0 + 1, 2**62)), (ARRIVAL + 1) / SECOND
        ),
        tick(2, ARRIVAL + HOLD + 1),
        ConsumedRecord(
            3, encoded(contact("c_next", T0, "Next")), (ARRIVAL + HOLD) / SECOND
        ),
    ]


def test_a_total_that_no_record_can_carry_is_skipped_not_raised() -> None:
    step = stage()

    outputs = feed(step, overflowing_usage_records())

    usage = [
        codec.decode("EnrichedEvent", value)
        for role, _key, value, _headers in outputs
        if role == ENRICHED
    ]
    # The first call's total fits and is published; only the sum does not fit.
    assert [r["record_kind"] for r in usage].count("usage_daily") >= 1


def test_a_failed_record_leaves_no_changes_for_the_next_one_to_commit() -> None:
    # The worker's agent is restarted by Faust after an exception and goes on with
    # the next record; whatever the failed record changed must not be committed then
    # without the outputs that describe it.
    table: dict[str, Any] = {}
    step = stage(CorrelateState(table))
    published: list[JournalledOutput] = []
    for record in overflowing_usage_records():
        try:
            outputs = step.run(record)
        except Exception:  # noqa: BLE001 - the agent's crash, restarted by Faust
            continue
        step.state.commit(record.offset, outputs)
        published += outputs

    usage_published = any(
        codec.decode("EnrichedEvent", value)["record_kind"] == "usage_daily"
        for role, _key, value, _headers in published
        if role == ENRICHED
    )
    usage_stored = any(key.startswith("usage/totals:ws_att/") for key in table)
    assert usage_published or not usage_stored, (
        "usage totals were committed that no published record carries"
    )


def test_an_unreadable_record_still_moves_the_clock() -> None:
    step = stage()
    commit(
        step, ConsumedRecord(0, encoded(contact("c_clock", T0, "A")), ARRIVAL / SECOND)
    )

    outputs = commit(step, ConsumedRecord(1, b"garbage", (ARRIVAL + HOLD) / SECOND))

    assert published_records(outputs) == [("contact", "c_clock", T0)]
    assert step.buffer.depth == 0


# -- size bound, dependencies, late events ---------------------------------------------


def test_an_account_over_its_bound_loses_no_event() -> None:
    step = stage(reorder_max_per_account=2)
    versions = [T0 + k * SECOND for k in range(5)]
    records = records_of(
        (ARRIVAL + k, encoded(contact("c_many", version, f"v{k}")))
        for k, version in enumerate(versions)
    )

    first_three = []
    for record in records[:3]:
        first_three += commit(step, record)
    # The third arrival exceeds the bound: the oldest leaves before any hold ends.
    assert published_records(first_three) == [("contact", "c_many", T0)]
    assert step.buffer.depth == 2

    outputs = first_three + feed(step, records[3:])
    assert published_records(outputs) == [("contact", "c_many", v) for v in versions]
    assert late_outputs(outputs) == []


def test_the_bound_names_its_release_cause() -> None:
    reorder = ReorderBuffer(
        {}, hold_micros=HOLD, max_per_account=1, dependency_wait_micros=HOLD
    )
    seen = Released()
    reorder.admit(held(1, T0 + 1, ARRIVAL, "acct_a"))
    reorder.admit(held(2, T0, ARRIVAL + 1, "acct_a"))

    reorder.release(ARRIVAL + 1, seen.is_known, seen.apply)

    assert [(r.held.offset, r.cause) for r in seen.releases] == [(2, BUFFER_FULL)]


def test_a_payment_whose_invoice_never_comes_leaves_after_the_wait() -> None:
    step = stage()
    payment = ConsumedRecord(
        0, encoded(refund("in_missing", T0, 300)), ARRIVAL / SECOND
    )
    commit(step, payment)

    commit(step, tick(1, ARRIVAL + int(WAIT_SECONDS * SECOND) - 1))
    assert step.buffer.depth == 1, "the payment left before its dependency wait"
    commit(step, tick(2, ARRIVAL + int(WAIT_SECONDS * SECOND)))
    assert step.buffer.depth == 0

    # When the invoice finally comes, it carries the refund the payment recorded.
    later = ARRIVAL + 2 * int(WAIT_SECONDS * SECOND)
    invoice_record = ConsumedRecord(
        3, encoded(invoice("in_missing", T0 + 1)), later / SECOND
    )
    outputs = feed(step, [invoice_record])
    invoices = [
        codec.decode("EnrichedEvent", value)
        for role, _key, value, _headers in outputs
        if role == ENRICHED
    ]
    refunded = [
        r["payload"][1]["amount_refunded"]
        for r in invoices
        if r["record_kind"] == "invoice"
    ]
    assert refunded == [300]


def test_a_late_older_snapshot_goes_to_the_late_topic_as_it_came() -> None:
    step = stage()
    newer = encoded(contact("c_late", T0 + SECOND, "New"))
    older = encoded(contact("c_late", T0, "Old"))
    feed(step, records_of([(ARRIVAL, newer)]))

    # Far beyond the hold: its account has moved past it.
    outputs = commit(step, ConsumedRecord(50, older, (ARRIVAL + 10 * HOLD) / SECOND))

    assert published_records(outputs) == []
    assert len(late_outputs(outputs)) == 1
    _role, key, value, headers = late_outputs(outputs)[0]
    assert value == older
    assert key == f"crm_contact:c_late:{T0}"
    assert headers.get(LATE_REASON_HEADER)


def test_a_late_newer_snapshot_is_applied() -> None:
    step = stage()
    feed(step, records_of([(ARRIVAL, encoded(contact("c_late2", T0 + SECOND, "A")))]))
    # Older than what the account released, but a different record: no newer state.
    other = contact("c_late2_other", T0, "B")
    other["identity"]["anchor"] = {"kind": "crm_contact", "id": "c_late2"}

    outputs = commit(
        step, ConsumedRecord(50, encoded(other), (ARRIVAL + 10 * HOLD) / SECOND)
    )

    assert published_records(outputs) == [("contact", "c_late2_other", T0)]
    assert late_outputs(outputs) == []


# -- a kill while events are held ------------------------------------------------------


def history_records(accounts: list[tuple[str, int]]) -> list[ConsumedRecord]:
    """Per account, four snapshots of one contact delivered out of order within the
    hold, interleaved across accounts, followed by ticks that end every hold."""
    deliveries = []
    for index, (record_id, start) in enumerate(accounts):
        shuffled = [2, 0, 3, 1]
        for position, version in enumerate(shuffled):
            arrival = ARRIVAL + index * 3 * HOLD + position * 200_000
            event = contact(record_id, start + version * SECOND, f"v{version}")
            deliveries.append((arrival, encoded(event)))
    deliveries.sort(key=lambda delivery: delivery[0])
    records = records_of(deliveries)
    clock = deliveries[-1][0]
    for _ in range(3):
        clock += HOLD
        records.append(tick(len(records), clock))
    return records


def uninterrupted(records: list[ConsumedRecord]) -> dict[int, list[JournalledOutput]]:
    step = stage()
    return {record.offset: commit(step, record) for record in records}


def killed_and_restarted(
    records: list[ConsumedRecord], processed: int, committed: int
) -> dict[int, list[JournalledOutput]]:
    """Process up to ``processed`` (exclusive), kill, restart from ``committed``."""
    table: dict[str, Any] = {}
    step = stage(CorrelateState(table))
    for record in records[:processed]:
        commit(step, record)

    # The kill: only the table survives; the consumer resumes at the committed offset.
    restarted_state = CorrelateState(copy.deepcopy(table))
    restarted = stage(restarted_state)
    outputs: dict[int, list[JournalledOutput]] = {}
    for record in records[committed:]:
        replayed = restarted_state.replayed(record.offset)
        if replayed is not None:
            restarted.buffer.reload()
            outputs[record.offset] = replayed
        else:
            outputs[record.offset] = commit(restarted, record)
    return outputs


@pytest.mark.parametrize(
    "accounts",
    [
        pytest.param([("c_one", T0)], id="one_account"),
        pytest.param([("c_x", T0), ("c_y", T0 + 60 * SECOND)], id="shared_clock"),
        pytest.param([("c_x", T0 + 20 * DAY), ("c_y", T0)], id="unrelated_clocks"),
    ],
)
def test_a_kill_while_events_are_held_releases_them_as_without_it(
    accounts: list[tuple[str, int]],
) -> None:
    records = history_records(accounts)
    expected = uninterrupted(records)

    for processed in range(1, len(records)):
        for committed in range(0, processed + 1):
            outputs = killed_and_restarted(records, processed, committed)
            for offset, produced in outputs.items():
                assert comparable(produced) == comparable(expected[offset]), (
                    f"killed after {processed} records, committed {committed}: "
                    f"offset {offset} differs"
                )
