"""The stack a scenario runs against, with a handle on every component to hurt.

Every component keeps its identity across a restart, so a restart is a recovery and not a
fresh start: the broker comes back on the same data directory and port, the Odoo
stand-in on the same port and SQLite file, the processor worker on the same state
directory and consumer group, the sink in the same consumer group.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka.admin import AdminClient

from chaos.exceptions import StackError
from devstack.local_kafka import LocalKafka, LocalKafkaError, free_port
from eventbus.kafka_config import admin_config
from eventbus.topic_admin import ensure_topics
from eventbus.topics import Topics
from pipeline.demo import settings_environment, wait_for_standin
from pipeline.settings import Settings

logger = logging.getLogger(__name__)

STANDIN_API_KEY = "chaos-standin-key"
STANDIN_DATABASE = "chaos"
PIPELINE_COMMAND = [sys.executable, "-m", "pipeline.cli"]


@dataclass
class Component:
    """One child process that can be killed and started again with the same command."""

    name: str
    command: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> None:
        handle = self.log.open("ab")
        self.process = subprocess.Popen(
            self.command,
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        self.starts += 1
        logger.info("started %s (pid %s)", self.name, self.process.pid)

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, nothing is flushed or committed."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        logger.warning("killed %s (pid %s) with SIGKILL", self.name, self.process.pid)

    def stop(self, timeout: float = 30.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            logger.warning(
                "%s ignored SIGTERM for %.0fs; killing it", self.name, timeout
            )
            self.kill()

    def exit_code(self) -> int | None:
        """The exit code when the process ended on its own, else None."""
        return None if self.process is None else self.process.poll()


@dataclass
class ChaosStack:
    """Kafka, the Odoo stand-in, the processor worker and the sink under ``state_dir``."""

    state_dir: Path
    partitions: int = 3
    broker: LocalKafka = field(init=False)
    settings: Settings = field(init=False)
    standin: Component = field(init=False)
    processor: Component = field(init=False)
    sink: Component = field(init=False)

    def start(self) -> None:
        """Steps: 1. broker; 2. settings; 3. stand-in; 4. topics; 5. worker and sink."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.broker = LocalKafka(data_dir=self.state_dir / "kafka")
        bootstrap = self.broker.start()

        standin_port = free_port()
        self.settings = Settings(
            kafka={"bootstrap_servers": bootstrap, "partitions": self.partitions},
            odoo={
                "url": f"http://127.0.0.1:{standin_port}",
                "database": STANDIN_DATABASE,
                "api_key": STANDIN_API_KEY,
            },
            processors={
                "state_dir": self.state_dir / "processors",
                "web_port": free_port(),
            },
            tracing={"spans_file": self.state_dir / "spans.jsonl"},
        )
        env = settings_environment(self.settings)

        self.standin = Component(
            "odoo-standin",
            [
                sys.executable,
                "-m",
                "odoo_standin",
                "--db",
                str(self.state_dir / "odoo.sqlite"),
                "--host",
                "127.0.0.1",
                "--port",
                str(standin_port),
                "--database",
                STANDIN_DATABASE,
                "--login",
                self.settings.odoo.login,
            ],
            {**env, "ODOO_STANDIN_API_KEY": STANDIN_API_KEY},
            self.state_dir / "odoo-standin.log",
        )
        self.start_standin()

        ensure_topics(self.settings)
        self.wait_for_leaders()

        self.processor = Component(
            "processors",
            [*PIPELINE_COMMAND, "process"],
            env,
            self.state_dir / "processors.log",
        )
        self.sink = Component(
            "odoo-sink", [*PIPELINE_COMMAND, "sink"], env, self.state_dir / "sink.log"
        )
        self.processor.start()
        self.sink.start()

    def start_standin(self) -> None:
        self.standin.start()
        try:
            wait_for_standin(self.settings.odoo.url, timeout=60)
        except RuntimeError as exc:
            raise StackError(f"{exc}; see {self.standin.log}") from exc

    def wait_for_leaders(self, timeout: float = 60.0) -> None:
        """Block until every partition of the pipeline's topics has a leader.

        Scenarios are about faults mid-run, not about records produced into topics
        created a moment earlier, so the run starts only once the topics are ready.
        """
        admin = AdminClient(admin_config(self.settings.kafka))
        wanted = {
            spec.name for spec in Topics(self.settings.kafka.topic_prefix).specs(1)
        }
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            topics = admin.list_topics(timeout=10).topics
            ready = {
                name
                for name in wanted
                if name in topics
                and topics[name].partitions
                and all(p.leader >= 0 for p in topics[name].partitions.values())
            }
            if ready == wanted:
                return
            time.sleep(0.5)
        raise StackError(f"topics without a leader after {timeout:.0f}s")

    def restart_broker(self) -> float:
        """Stop the broker (SIGTERM) and start it on the same data dir and port.

        Returns the seconds the broker was unreachable.
        """
        began = time.monotonic()
        self.broker.stop()
        try:
            self.broker.start()
        except LocalKafkaError as exc:
            raise StackError(f"the broker did not come back: {exc}") from exc
        return time.monotonic() - began

    def broker_pid(self) -> int | None:
        return self.broker.pid

    def crashed_component(self) -> str | None:
        """The name of a component that exited on its own, or None while all run."""
        for component in (self.processor, self.sink, self.standin):
            if component.exit_code() is not None:
                return component.name
        return None

    def restart_crashed(self) -> list[str]:
        """Start again every component that exited on its own, as a supervisor would.

        A component we killed (SIGKILL) is left alone: its fault restarts it. Returns
        a description of each crash found.
        """
        crashes = []
        for component in (self.processor, self.sink, self.standin):
            code = component.exit_code()
            if code is None or code == -signal.SIGKILL:
                continue
            crashes.append(f"{component.name} exited with code {code}")
            logger.warning(
                "%s exited on its own (code %s, log %s); restarting it",
                component.name,
                code,
                component.log,
            )
            if component is self.standin:
                self.start_standin()
            else:
                component.start()
        return crashes

    def stop(self) -> None:
        for component in ("sink", "processor", "standin"):
            if hasattr(self, component):
                getattr(self, component).stop()
        if hasattr(self, "broker"):
            self.broker.stop()
