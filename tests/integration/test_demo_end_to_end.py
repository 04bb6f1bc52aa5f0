"""The main job end to end: corpus files -> real Kafka -> Faust processors -> Odoo sink ->
Odoo stand-in over HTTP, compared with the corpus's expected.json."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.demo import run_demo

pytestmark = pytest.mark.integration


def test_demo_reaches_the_corpus_expected_end_state(
    corpus_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = run_demo(corpus_dir, tmp_path / "demo")
    output = capsys.readouterr().out

    assert "end state matches" in output, output
    assert status == 0
    assert "accounts in Odoo:" in output
