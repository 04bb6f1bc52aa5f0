"""The file ``pipeline demo --keep-running`` leaves behind: enough to point the
pipeline's commands at the running stack, readable by its owner only."""

from __future__ import annotations

import shlex
import stat
from pathlib import Path

from pipeline.demo import DemoProcesses, write_stack_file
from pipeline.settings import Settings


def test_the_stack_file_sets_the_stack_settings_for_the_shell(tmp_path: Path) -> None:
    settings = Settings(
        kafka={"bootstrap_servers": "127.0.0.1:19092", "partitions": 3},
        odoo={"url": "http://127.0.0.1:18069", "database": "demo", "api_key": "k y"},
        processors={"web_port": 16066},
    )

    stack_file = write_stack_file(tmp_path, settings, DemoProcesses())

    assert stat.S_IMODE(stack_file.stat().st_mode) == 0o600
    lines = stack_file.read_text().splitlines()
    assert lines[0].startswith("# pids:")
    values = dict(shlex.split(line)[0].split("=", 1) for line in lines[1:])
    assert values["PIPELINE_KAFKA__BOOTSTRAP_SERVERS"] == "127.0.0.1:19092"
    assert values["PIPELINE_KAFKA__PARTITIONS"] == "3"
    assert values["PIPELINE_ODOO__URL"] == "http://127.0.0.1:18069"
    assert values["PIPELINE_ODOO__API_KEY"] == "k y"
    assert values["PIPELINE_PROCESSORS__WEB_PORT"] == "16066"


def test_a_demo_that_failed_before_its_settings_still_names_its_processes(
    tmp_path: Path,
) -> None:
    stack_file = write_stack_file(tmp_path, None, DemoProcesses())

    assert stack_file.read_text() == "# pids: \n"
