"""Start the Odoo stand-in as a child process on a free loopback port.

Imported by the integration tests that need an Odoo-protocol server; the tests own the
process and stop it by its pid.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from pydantic import SecretStr

from pipeline.settings import OdooSettings

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 30.0


@dataclass(frozen=True)
class RunningStandin:
    url: str
    database: str
    login: str
    api_key: str
    db_path: Path

    def settings(self, protocol: str) -> OdooSettings:
        return OdooSettings(
            url=self.url,
            database=self.database,
            protocol=protocol,
            login=self.login,
            api_key=SecretStr(self.api_key),
            timeout_seconds=10.0,
        )


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def running_standin(directory: Path) -> Iterator[RunningStandin]:
    """A stand-in over a fresh SQLite file in ``directory``, stopped on exit."""
    standin = RunningStandin(
        url=f"http://127.0.0.1:{free_loopback_port()}",
        database="standin-test",
        login="sink",
        api_key="test-key-not-secret",
        db_path=directory / "standin.sqlite",
    )
    port = standin.url.rsplit(":", 1)[1]
    log_path = directory / "standin.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "odoo_standin",
                "--db",
                str(standin.db_path),
                "--host",
                "127.0.0.1",
                "--port",
                port,
                "--database",
                standin.database,
                "--login",
                standin.login,
                "--api-key",
                standin.api_key,
            ],
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_ready(standin.url, process, log_path)
            yield standin
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"stand-in exited early:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/web/version", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(
        f"stand-in not ready after {STARTUP_SECONDS}s:\n{log.read_text()}"
    )
