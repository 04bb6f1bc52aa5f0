"""Names and shapes of every topic the pipeline owns.

Data flows source topics -> processors -> ``enriched`` -> Odoo sink. Keys:

* source topics are keyed by the source-level account identifier (billing customer,
  workspace, helpdesk organization or requester, CRM company), so one source account's
  events share a partition;
* ``deduplicated`` has one partition: the identity graph must see every identifier to join
  accounts, so one worker owns it (see docs/processing.md for the limit this sets);
* ``enriched`` is keyed by canonical account id, so every record of one account is ordered.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str]


@dataclass(frozen=True)
class Topics:
    prefix: str = ""

    def _named(self, name: str) -> str:
        return f"{self.prefix}{name}"

    @property
    def billing(self) -> str:
        return self._named("source.billing")

    @property
    def product(self) -> str:
        return self._named("source.product")

    @property
    def helpdesk(self) -> str:
        return self._named("source.helpdesk")

    @property
    def crm(self) -> str:
        return self._named("source.crm")

    @property
    def ingest_deadletter(self) -> str:
        return self._named("deadletter.ingest")

    @property
    def deduplicated(self) -> str:
        return self._named("processing.deduplicated")

    @property
    def notices(self) -> str:
        return self._named("processing.notices")

    @property
    def late(self) -> str:
        return self._named("processing.late")

    @property
    def enriched(self) -> str:
        return self._named("enriched.accounts")

    @property
    def sink_deadletter(self) -> str:
        return self._named("deadletter.sink")

    @property
    def sink_audit(self) -> str:
        """What the Odoo sink did to each record, as JSON (docs/operations.md)."""
        return self._named("audit.sink")

    def source_topic(self, source_system: str) -> str:
        """Topic for a ``SourceSystem`` value (billing, product, helpdesk, crm)."""
        return {
            "billing": self.billing,
            "product": self.product,
            "helpdesk": self.helpdesk,
            "crm": self.crm,
        }[source_system]

    @property
    def source_topics(self) -> list[str]:
        return [self.billing, self.product, self.helpdesk, self.crm]

    def specs(self, partitions: int) -> list[TopicSpec]:
        """Every topic with its partition count and configuration."""
        keep_week = {"retention.ms": str(7 * 24 * 3600 * 1000)}
        keep_month = {"retention.ms": str(30 * 24 * 3600 * 1000)}
        return [
            *(TopicSpec(t, partitions, keep_month) for t in self.source_topics),
            TopicSpec(self.ingest_deadletter, 1, keep_month),
            TopicSpec(self.deduplicated, 1, keep_week),
            TopicSpec(self.notices, 1, keep_week),
            TopicSpec(self.late, 1, keep_month),
            TopicSpec(self.enriched, partitions, keep_month),
            TopicSpec(self.sink_deadletter, 1, keep_month),
            TopicSpec(self.sink_audit, partitions, keep_month),
        ]
