"""How a sender delivers one file's events: out of order, late, twice, or broken.

Reordering uses a small heap of held-back lines released a bounded number of deliveries
later, so memory stays flat whatever the corpus size. Every physical line written is
accounted for in the expected state: accepted, rejected (with its reason) or duplicate
(with the line of its first accepted copy).
"""

from __future__ import annotations

import heapq
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from loadgen.bad_lines import INVALID_JSON, fabricate, kinds_for, truncated
from loadgen.clock import iso_millis
from loadgen.identifiers import IdMint
from loadgen.oracle import ExpectedState
from loadgen.parameters import GenerationParameters
from loadgen.timeline import BILLING, PRODUCT, TimedEvent

DISORDER_DELAY = (1, 6)
LATE_DELAY = (50, 400)
REDELIVERY_DELAY = (1, 8)


@dataclass(slots=True)
class _Held:
    """A line waiting for its delivery slot; exactly one of the payload kinds is set."""

    event: TimedEvent | None = None
    text: str | None = None
    reason: str | None = None
    duplicate_of: tuple[str, int] | None = None


def redelivery_text(event: TimedEvent, rng: random.Random) -> str:
    """The same event as a retry would carry it: same id, other delivery metadata."""
    payload = event.payload
    if event.event_file == BILLING:
        return json.dumps({**payload, "pending_webhooks": 2}, ensure_ascii=False)
    if event.event_file == PRODUCT:
        later = event.at + rng.uniform(20, 40)
        retry = {
            **payload,
            "sentAt": iso_millis(later),
            "receivedAt": iso_millis(later + 0.6),
        }
        return json.dumps(retry, ensure_ascii=False)
    reordered: dict[str, Any] = dict(reversed(list(payload.items())))
    return json.dumps(reordered, ensure_ascii=False, separators=(",", ":"))


class DeliveryLane:
    """Writes one JSONL event file in delivery order."""

    def __init__(
        self,
        out_dir: Path,
        relative_path: str,
        params: GenerationParameters,
        rng: random.Random,
        mint: IdMint,
        expected: ExpectedState,
    ) -> None:
        path = out_dir / relative_path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._stream: TextIO = path.open(
            "w", encoding="utf-8", newline="", buffering=1 << 20
        )
        self._file = relative_path
        self._params = params
        self._rng = rng
        self._mint = mint
        self._expected = expected
        self._held: list[tuple[int, int, _Held]] = []
        self._tick = 0
        self._sequence = 0
        self.lines = 0
        self.accepted = 0

    def offer(self, event: TimedEvent) -> None:
        """Hands one event to the sender; it is written now or a little later."""
        rng = self._rng
        params = self._params
        delay = 0
        roll = rng.random()
        if roll < params.late_rate:
            delay = rng.randint(*LATE_DELAY)
        elif roll < params.late_rate + params.disorder_rate:
            delay = rng.randint(*DISORDER_DELAY)
        if rng.random() < params.bad_rate:
            kind = rng.choice(kinds_for(event))
            if kind == INVALID_JSON:
                # The broken first attempt goes now; the intact retry follows later and
                # is not a duplicate, because the broken copy was never accepted.
                line = json.dumps(event.payload, ensure_ascii=False)
                self._hold(0, _Held(text=truncated(line, rng), reason=INVALID_JSON))
                delay = max(delay, rng.randint(1, 10))
            else:
                self._hold(
                    0, _Held(text=fabricate(kind, event, self._mint), reason=kind)
                )
        self._hold(delay, _Held(event=event))
        self._tick += 1
        self._release(self._tick)

    def close(self) -> None:
        self._release(None)
        self._stream.close()

    def _hold(self, delay: int, held: _Held) -> None:
        self._sequence += 1
        heapq.heappush(self._held, (self._tick + delay, self._sequence, held))

    def _release(self, up_to: int | None) -> None:
        while self._held and (up_to is None or self._held[0][0] <= up_to):
            _, _, held = heapq.heappop(self._held)
            self._write(held)

    def _write(self, held: _Held) -> None:
        if held.event is not None:
            text = json.dumps(held.event.payload, ensure_ascii=False)
        else:
            assert held.text is not None
            text = held.text
        self._stream.write(text)
        self._stream.write("\n")
        self.lines += 1
        if held.reason is not None:
            self._expected.reject(self._file, self.lines, held.reason)
        elif held.duplicate_of is not None:
            event_id, first_line = held.duplicate_of
            self._expected.duplicate(self._file, self.lines, event_id, first_line)
        elif held.event is not None:
            self.accepted += 1
            self._schedule_redeliveries(held.event, text)

    def _schedule_redeliveries(self, event: TimedEvent, text: str) -> None:
        rng = self._rng
        if rng.random() >= self._params.duplicate_rate:
            return
        copies = 2 if rng.random() < 0.2 else 1
        for _ in range(copies):
            retry = text if rng.random() < 0.5 else redelivery_text(event, rng)
            self._hold(
                rng.randint(*REDELIVERY_DELAY),
                _Held(text=retry, duplicate_of=(event.event_id, self.lines)),
            )
