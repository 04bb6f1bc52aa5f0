"""Synthetic corpus generator: source files in the sample layout plus the expected state.

The generator decides every account's history itself, writes the events the source
systems would have sent for it (with redeliveries, disorder and bad input on top), and
writes ``expected.json`` from that same history, so the oracle never depends on the
pipeline's own code.
"""

from loadgen.corpus_writer import GenerationReport, generate_corpus
from loadgen.exceptions import LoadgenError
from loadgen.parameters import GenerationParameters

__all__ = [
    "GenerationParameters",
    "GenerationReport",
    "LoadgenError",
    "generate_corpus",
]
