"""The main job on a corpus nobody has seen: written by the load generator from its own
truth, run through every stage, compared with the generator's expected.json."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadgen.corpus_writer import generate_corpus
from loadgen.parameters import GenerationParameters
from pipeline.demo import run_demo

pytestmark = pytest.mark.integration


def test_demo_reaches_a_generated_corpus_expected_end_state(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = tmp_path / "corpus"
    # Higher fault rates than the defaults, so a small corpus still carries every kind.
    parameters = GenerationParameters(
        events=600, seed=20241204, duplicate_rate=0.05, bad_rate=0.03, late_rate=0.02
    )
    generate_corpus(parameters, corpus)

    status = run_demo(corpus, tmp_path / "demo")
    output = capsys.readouterr().out

    assert "end state matches" in output, output
    assert status == 0
