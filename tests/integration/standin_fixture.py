"""Start the Odoo stand-in as a child process on a free loopback port.

Imported by the integration tests that need an Odoo-protocol server; the tests own the
process and stop it by its pid. Two ways to use it:

* ``running_standin(directory)``: a context manager, for a fixture of any scope::

      @pytest.fixture(scope="module")
      def standin(tmp_path_factory):
          with running_standin(tmp_path_factory.mktemp("standin")) as server:
              yield server

* ``StandinProcess(directory).start()`` / ``.stop()``, when start and stop happen in
  different places.

``RunningStandin`` gives the ``url``, ``database``, ``login`` and ``api_key``, the sink's
``OdooSettings`` for either protocol, and ``fault_control()`` for the fault switch.
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
from typing import IO

import httpx
from pydantic import SecretStr

from odoo_standin.fault_control import FaultControl
from pipeline.settings import OdooSettings

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 30.0
STOP_SECONDS = 10.0
# The Odoo protocols the stand-in serves, as ``OdooSettings.protocol`` names them.
PROTOCOLS = ["json2", "jsonrpc"]


@dataclass(frozen=True)
class RunningStandin:
    url: str
    database: str
    login: str
    api_key: str
    db_path: Path
    log_path: Path

    def settings(self, protocol: str, *, timeout_seconds: float = 10.0) -> OdooSettings:
        return OdooSettings(
            url=self.url,
            database=self.database,
            protocol=protocol,
            login=self.login,
            api_key=SecretStr(self.api_key),
            timeout_seconds=timeout_seconds,
        )

    def fault_control(self) -> FaultControl:
        """A client for the fault switch; close it (or use it in ``with``)."""
        return FaultControl(self.url)


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class StandinProcess:
    """One stand-in child process over a fresh SQLite file in ``directory``."""

    def __init__(
        self,
        directory: Path,
        *,
        database: str = "standin-test",
        login: str = "sink",
        api_key: str = "test-key-not-secret",
    ) -> None:
        self._directory = directory
        self._database = database
        self._login = login
        self._api_key = api_key
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> RunningStandin:
        if self._process is not None:
            raise RuntimeError("the stand-in is already running")
        port = free_loopback_port()
        standin = RunningStandin(
            url=f"http://127.0.0.1:{port}",
            database=self._database,
            login=self._login,
            api_key=self._api_key,
            db_path=self._directory / "standin.sqlite",
            log_path=self._directory / "standin.log",
        )
        self._log = standin.log_path.open("wb")
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "odoo_standin",
                "--db",
                str(standin.db_path),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--database",
                standin.database,
                "--login",
                standin.login,
                "--api-key",
                standin.api_key,
            ],
            cwd=REPO_ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_ready(standin.url, self._process, standin.log_path)
        except BaseException:
            self.stop()
            raise
        return standin

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


@contextlib.contextmanager
def running_standin(directory: Path) -> Iterator[RunningStandin]:
    """A stand-in over a fresh SQLite file in ``directory``, stopped on exit."""
    process = StandinProcess(directory)
    try:
        yield process.start()
    finally:
        process.stop()


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
