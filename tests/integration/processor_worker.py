"""The processors' Faust worker as a child process, for integration tests on the broker.

Imported by basename (like ``standin_fixture``) by the tests that run the real worker:

* ``worker_environment(settings)``: the environment that points a worker at the test's
  broker, topic prefix, state directory and span file, on a free web port;
* ``start_worker(env, log_path)``: a worker the test stops (or kills) itself;
* ``running_worker(env, log_path)``: a worker stopped with SIGTERM on exit, which must
  then exit cleanly;
* ``read_settled(settings)``: wait until the worker's output topics stop growing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from devstack.local_kafka import free_port
from eventbus import Topics
from pipeline.settings import Settings
from pipeline.topic_reader import read_all

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKER_SCRIPT = (
    "from telemetry import configure_logging; configure_logging('INFO'); "
    "from processors.cli import process; process()"
)
# How long a worker may take to start, join its group and work through a test's input.
WAIT_SECONDS = 120.0
STOP_SECONDS = 60.0


def worker_environment(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "PIPELINE_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
        "PIPELINE_KAFKA__TOPIC_PREFIX": settings.kafka.topic_prefix,
        "PIPELINE_KAFKA__PARTITIONS": str(settings.kafka.partitions),
        "PIPELINE_PROCESSORS__APP_ID": settings.processors.app_id,
        "PIPELINE_PROCESSORS__STATE_DIR": str(settings.processors.state_dir),
        "PIPELINE_PROCESSORS__WEB_PORT": str(free_port()),
        "PIPELINE_TRACING__SPANS_FILE": str(settings.tracing.spans_file),
    }


def start_worker(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """A worker writing its output to ``log_path`` (appended, so restarts add up)."""
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-c", WORKER_SCRIPT],
            env=env,
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


@contextmanager
def running_worker(
    env: dict[str, str], log_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """A worker stopped with SIGTERM afterwards; it must exit cleanly."""
    worker = start_worker(env, log_path)
    try:
        yield worker
    finally:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait(timeout=10)
    assert worker.returncode == 0, log_path.read_text(errors="replace")[-4000:]


def read_settled(settings: Settings, timeout: float = WAIT_SECONDS) -> None:
    """Wait until the output topics stop growing (the worker has caught up)."""
    topics = Topics(settings.kafka.topic_prefix)
    deadline = time.monotonic() + timeout
    last, stable = -1, 0
    while stable < 4:
        assert time.monotonic() < deadline, "processors did not settle in time"
        time.sleep(2)
        count = sum(1 for _ in read_all(settings.kafka, topics.enriched))
        count += sum(1 for _ in read_all(settings.kafka, topics.notices))
        stable = stable + 1 if count == last and count > 0 else 0
        last = count
