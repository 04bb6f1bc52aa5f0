"""Settings that do not validate are reported by name and reason, never by value."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pipeline.settings import SettingsError, load_settings

SECRET = "s3cret-value-that-must-not-show"


def test_a_misshapen_secret_is_named_without_its_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "PIPELINE_INGEST__WEBHOOK_SECRETS", f'{{"billing": ["{SECRET}"]}}'
    )

    with pytest.raises(SettingsError) as raised:
        load_settings()

    message = str(raised.value)
    assert "ingest.webhook_secrets.billing" in message
    assert "PIPELINE_INGEST__WEBHOOK_SECRETS" in message
    assert SECRET not in message
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_the_command_line_says_it_in_one_line_and_exits_2() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "settings"],
        capture_output=True,
        text=True,
        timeout=60,
        env={
            "PATH": "/usr/bin:/bin",
            "PIPELINE_INGEST__WEBHOOK_SECRETS": f'{{"billing": ["{SECRET}"]}}',
            "PIPELINE_PROCESSORS__OUTPUT_JOURNAL_SPAN": "0",
        },
    )

    assert result.returncode == 2
    assert SECRET not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: invalid settings: ")
    assert "processors.output_journal_span" in lines[0]
