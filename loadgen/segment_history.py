"""A Segment workspace's calls: identify and group on onboarding, then daily usage.

The workspace's usage truth is tallied per UTC day and event name while the track calls
are built, exactly as the README's usage rule reads.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from loadgen.clock import iso_millis, iso_seconds, utc_day
from loadgen.conventions import OTHER_TRACK_EVENTS, SEGMENT_LIBRARY
from loadgen.identifiers import IdMint
from loadgen.timeline import PRODUCT, TimedEvent

DAY = 86400.0


@dataclass(frozen=True)
class WorkspaceLink:
    """How the workspace's group calls point at the CRM company."""

    mode: str  # "crm_id_string" | "crm_id_number" | "website_only"
    company_id: str
    website: str
    name: str
    renamed_to: str | None = None
    renamed_at: float | None = None


@dataclass
class ProductTruth:
    group_id: str
    member_emails: set[str] = field(default_factory=set)
    usage: dict[tuple[str, str], list[int]] = field(default_factory=dict)


class SegmentHistory:
    def __init__(
        self,
        rng: random.Random,
        mint: IdMint,
        link: WorkspaceLink,
        users: list[tuple[str, str, str]],
        start: float,
        end: float,
    ) -> None:
        """``users`` are (e-mail as typed, name, title); the e-mail may carry stray
        whitespace or capitals, which normalisation removes."""
        self._rng = rng
        self._mint = mint
        self._link = link
        self._users = users
        self._start = start
        self._end = end
        self.events: list[TimedEvent] = []
        self.truth = ProductTruth(group_id=mint.short("ws"))
        self._user_ids: list[str] = []

    def _call(self, at: float, body: dict[str, Any], offset_hours: int = 0) -> None:
        message_id = self._mint.uuid4()
        sent = at + self._rng.uniform(0.1, 0.6)
        received = sent + self._rng.uniform(0.2, 0.8)
        stamp = iso_millis(at, offset_hours)
        payload: dict[str, Any] = {
            "type": body.pop("type"),
            "messageId": message_id,
            "timestamp": stamp,
            "originalTimestamp": stamp,
            "sentAt": iso_millis(sent),
            "receivedAt": iso_millis(received),
        }
        payload.update(body)
        payload["integrations"] = {}
        payload["version"] = 2
        self.events.append(TimedEvent(at, PRODUCT, message_id, payload))

    def _group_traits(self, first: bool, name: str) -> dict[str, Any]:
        link = self._link
        traits: dict[str, Any] = {"name": name, "website": link.website}
        if first and link.mode == "crm_id_string":
            traits["crm_company_id"] = link.company_id
        elif first and link.mode == "crm_id_number":
            traits["crm_company_id"] = int(link.company_id)
        if first:
            traits["plan"] = "trial"
            traits["employees"] = self._rng.randint(5, 900)
        return traits

    def run(self) -> ProductTruth:
        at = self._start
        for index, (email, name, title) in enumerate(self._users):
            user_id = f"u_{self._mint.short('x')[2:].lower()}"
            self._user_ids.append(user_id)
            self._call(
                at,
                {
                    "type": "identify",
                    "userId": user_id,
                    "traits": {"email": email, "name": name, "title": title},
                    "context": {"library": dict(SEGMENT_LIBRARY)},
                },
            )
            self._call(
                at + 1.7,
                {
                    "type": "group",
                    "userId": user_id,
                    "groupId": self.truth.group_id,
                    "traits": self._group_traits(index == 0, self._link.name),
                    "context": {"library": dict(SEGMENT_LIBRARY)},
                },
            )
            self.truth.member_emails.add(email.strip().lower())
            at += self._rng.uniform(600, 4 * DAY)
        self._rename()
        self._usage()
        return self.truth

    def _rename(self) -> None:
        link = self._link
        if link.renamed_to is None or link.renamed_at is None or not self._user_ids:
            return
        self._call(
            link.renamed_at + 30,
            {
                "type": "group",
                "userId": self._user_ids[0],
                "groupId": self.truth.group_id,
                "traits": self._group_traits(False, link.renamed_to),
                "context": {"library": dict(SEGMENT_LIBRARY)},
            },
        )

    def _track(
        self, at: float, event: str, properties: dict[str, Any], quantity: int
    ) -> None:
        rng = self._rng
        # A few clients send local time with an offset; the usage day is still UTC.
        offset = rng.choice((2, -5)) if rng.random() < 0.05 else 0
        body: dict[str, Any] = {
            "type": "track",
            "userId": rng.choice(self._user_ids) if self._user_ids else "u_anonymous",
            "event": event,
            "properties": properties,
            "context": {
                "library": dict(SEGMENT_LIBRARY),
                "groupId": self.truth.group_id,
            },
        }
        self._call(at, body, offset)
        tally = self.truth.usage.setdefault((utc_day(at), event), [0, 0])
        tally[0] += 1
        tally[1] += quantity

    def _metered(self, at: float) -> None:
        calls = self._rng.randint(0, 25000)
        properties = {
            "calls": calls,
            "endpoint_group": self._rng.choice(("reports", "ingest", "export")),
            "window_start": iso_seconds(at - DAY + 1),
            "window_end": iso_seconds(at),
        }
        self._track(at, "API Calls Metered", properties, calls)

    def _usage(self) -> None:
        rng = self._rng
        at = self._start + 3600
        self._track(at, "Trial Started", {"trial_plan": "starter", "trial_days": 14}, 1)
        straddle_day = rng.randint(3, 60) if rng.random() < 0.3 else -1
        day_index = 0
        while True:
            at += rng.uniform(0.6, 2.6) * DAY
            if at >= self._end:
                return
            day_index += 1
            self._metered(at)
            roll = rng.random()
            if roll < 0.08:
                seats = rng.randint(1, 3)
                for step in range(seats):
                    self._track(
                        at + 60 + step * 7.5, "Seat Added", {"seats_added": 1}, 1
                    )
            elif roll < 0.2:
                self._track(
                    at + 300, rng.choice(OTHER_TRACK_EVENTS), {"source": "web"}, 1
                )
            if day_index == straddle_day:
                # Two calls 170 ms apart on either side of midnight UTC.
                midnight = (int(at // DAY) + 1) * DAY
                self._metered(midnight - 0.085)
                self._metered(midnight + 0.085)
