"""Producer adapters: source inputs validated, mapped to business events, published."""

from producers.corpus import CORPUS_LAYOUT, read_corpus
from producers.exceptions import PayloadError, ProducerError, PublishError
from producers.outcomes import AcceptedEvent, IngestOutcome, RejectedLine
from producers.validation import Rejection

__all__ = [
    "CORPUS_LAYOUT",
    "AcceptedEvent",
    "IngestOutcome",
    "PayloadError",
    "ProducerError",
    "PublishError",
    "RejectedLine",
    "Rejection",
    "read_corpus",
]
