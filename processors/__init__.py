"""Stream processors: deduplication, identity correlation into canonical accounts,
record versions, invoice payment state, usage aggregation and account context.

The pure core (``dedup``, ``identity``, ``account_profile``, ``record_versions``,
``invoice_payment``, ``usage``, ``correlate``) keeps all state in mappings handed in;
``app`` wires it into Faust agents and tables.
"""

from processors.correlate import ENRICHED, LATE, Correlator, CorrelatorStores
from processors.dedup import DedupLedger, Duplicate, FirstSeen

__all__ = [
    "ENRICHED",
    "LATE",
    "Correlator",
    "CorrelatorStores",
    "DedupLedger",
    "Duplicate",
    "FirstSeen",
]
