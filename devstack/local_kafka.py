"""A single-node Apache Kafka broker (KRaft mode) on loopback, for development and tests.

The broker's jars come from Maven Central through ``deploy/kafka/pom.xml`` and are cached
under ``~/.cache/saas-odoo-pipeline/kafka-<version>/`` (``PIPELINE_KAFKA_CACHE`` overrides),
outside the repository. Start-up formats the storage directory, starts the broker on free
loopback ports and waits until it answers a metadata request. Every failure we can foresee
(no Java, no Maven, a refused download, a busy port, a broker that dies while starting)
raises ``LocalKafkaError`` with a message that says what to do; nothing waits forever.

Run ``python -m devstack.local_kafka start|stop|status --data-dir DIR`` from a shell.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from functools import partial
from pathlib import Path

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
POM_FILE = REPO_ROOT / "deploy" / "kafka" / "pom.xml"
STARTUP_TIMEOUT_SECONDS = 90.0
MIN_JAVA_MAJOR = 17

# A broker JVM's log4j2 configuration: warnings and worse, to one file.
BROKER_LOG4J2_PROPERTIES = """\
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log_file}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.file.ref = file
"""
# The single broker's log also keeps the server's own INFO lines.
_LOG4J2_PROPERTIES = (
    BROKER_LOG4J2_PROPERTIES
    + """\
logger.kafka.name = kafka.server.KafkaRaftServer
logger.kafka.level = INFO
"""
)


class LocalKafkaError(Exception):
    """The local broker could not be fetched, formatted, started or stopped."""


def kafka_version() -> str:
    match = re.search(r"<kafka.version>([^<]+)</kafka.version>", POM_FILE.read_text())
    if not match:
        raise LocalKafkaError(f"{POM_FILE} does not declare <kafka.version>")
    return match.group(1)


def cache_dir() -> Path:
    root = os.environ.get("PIPELINE_KAFKA_CACHE")
    base = Path(root) if root else Path.home() / ".cache" / "saas-odoo-pipeline"
    return base / f"kafka-{kafka_version()}"


def broker_jvm_command(
    java: str,
    classpath: str,
    *main: str,
    heap: str,
    initial_heap: str,
    log_config: Path,
) -> list[str]:
    """A JVM running one of the broker's main classes (the server or a tool) with
    ``main``'s arguments, a G1 heap of at most ``heap`` and ``log_config``."""
    return [
        java,
        f"-Xmx{heap}",
        f"-Xms{initial_heap}",
        "-XX:+UseG1GC",
        f"-Dlog4j2.configurationFile={log_config}",
        "-Djava.awt.headless=true",
        "-cp",
        classpath,
        *main,
    ]


def _java_major_version(java: str) -> int:
    result = subprocess.run(
        [java, "-version"], capture_output=True, text=True, timeout=30
    )
    match = re.search(r'version "(\d+)(?:\.(\d+))?', result.stderr)
    if not match:
        raise LocalKafkaError(
            f"cannot read the Java version from: {result.stderr.strip()}"
        )
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def ensure_java() -> str:
    java = shutil.which("java")
    if java is None:
        raise LocalKafkaError(
            "Java is not installed; Kafka needs Java 17 or newer "
            "(Debian: apt-get install openjdk-17-jre-headless)"
        )
    major = _java_major_version(java)
    if major < MIN_JAVA_MAJOR:
        raise LocalKafkaError(
            f"Kafka {kafka_version()} needs Java 17+, found Java {major}"
        )
    return java


def fetch_broker_jars() -> Path:
    """Resolve the broker and its runtime dependencies into the cache (once)."""
    libs = cache_dir() / "libs"
    stamp = cache_dir() / "complete"
    if stamp.is_file():
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise LocalKafkaError(
            "Maven is not installed; it fetches the Kafka jars from Maven Central "
            "(Debian: apt-get install maven)"
        )
    logger.info("fetching Kafka %s jars into %s", kafka_version(), libs)
    libs.mkdir(parents=True, exist_ok=True)
    command = [
        mvn,
        "-q",
        "-B",
        "-f",
        str(POM_FILE),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={libs}",
        "-DincludeScope=runtime",
    ]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired as exc:
        raise LocalKafkaError(
            "Maven did not finish fetching the Kafka jars in 15 minutes"
        ) from exc
    if result.returncode != 0:
        tail = (result.stdout + result.stderr).strip().splitlines()[-15:]
        raise LocalKafkaError(
            "Maven could not fetch the Kafka jars (download refused or offline?):\n"
            + "\n".join(tail)
        )
    stamp.write_text(kafka_version())
    return libs


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_is_busy(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _port_accepts(port: int | None) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port or 0), timeout=1):
            return True
    except OSError:
        return False


def _random_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, base64url without padding.

    One id in 64 would begin with ``-`` and be read as an option by the storage tool,
    so such ids are drawn again (Kafka's own id generator does the same).
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


@dataclass
class LocalKafka:
    """One broker process that is also its own KRaft controller."""

    data_dir: Path
    port: int | None = None
    heap: str = "768m"

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).resolve()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def state_file(self) -> Path:
        return self.data_dir / "broker.json"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "broker.log"

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        """The JVM's process id while this object runs it."""
        return None if self._process is None else self._process.pid

    def start(self, *, detach: bool = False) -> str:
        """Fetch, format and start the broker; return its bootstrap address.

        Steps: 1. check Java and pick ports; 2. fetch jars; 3. write config and format
        storage; 4. start the JVM; 5. wait for a metadata answer.
        """
        java = ensure_java()
        if self.port is None:
            self.port = free_port()
        elif _port_is_busy(self.port):
            raise LocalKafkaError(
                f"port {self.port} on 127.0.0.1 is busy: stop what uses it or pick another"
            )
        controller_port = free_port()

        libs = fetch_broker_jars()

        config = self._write_config(controller_port)
        classpath = f"{libs}/*"
        self._format_storage(java, classpath, config)

        self._process = self._launch(java, classpath, config, detach=detach)

        self._wait_until_ready()
        self.state_file.write_text(
            json.dumps({"pid": self._process.pid, "bootstrap": self.bootstrap_servers})
        )
        logger.info("Kafka %s ready at %s", kafka_version(), self.bootstrap_servers)
        return self.bootstrap_servers

    def _write_config(self, controller_port: int) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log_dirs = self.data_dir / "log-dirs"
        properties = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},"
            f"CONTROLLER://127.0.0.1:{controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(log_dirs),
            "num.partitions": "1",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "6",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "group.initial.rebalance.delay.ms": "0",
            # Tests create and drop many short-lived topics; auto-creation stays on for
            # Faust's internal topics, which it creates itself anyway.
            "auto.create.topics.enable": "true",
        }
        config = self.data_dir / "server.properties"
        config.write_text("".join(f"{k}={v}\n" for k, v in properties.items()))
        (self.data_dir / "log4j2.properties").write_text(
            _LOG4J2_PROPERTIES.format(log_file=self.log_file)
        )
        return config

    def _jvm_command(self, java: str, classpath: str, *main: str) -> list[str]:
        return broker_jvm_command(
            java,
            classpath,
            *main,
            heap=self.heap,
            initial_heap="256m",
            log_config=self.data_dir / "log4j2.properties",
        )

    def _format_storage(self, java: str, classpath: str, config: Path) -> None:
        if (self.data_dir / "log-dirs" / "meta.properties").is_file():
            return
        command = self._jvm_command(
            java,
            classpath,
            "kafka.tools.StorageTool",
            "format",
            "-t",
            _random_cluster_id(),
            "-c",
            str(config),
        )
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise LocalKafkaError(
                f"formatting Kafka storage failed: {result.stderr.strip()}"
            )

    def _launch(
        self, java: str, classpath: str, config: Path, *, detach: bool
    ) -> subprocess.Popen[bytes]:
        command = self._jvm_command(java, classpath, "kafka.Kafka", str(config))
        output = (self.data_dir / "broker.out").open("ab")
        return subprocess.Popen(
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=detach,
        )

    def _wait_until_ready(self) -> None:
        from confluent_kafka.admin import AdminClient

        assert self._process is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        # Wait for the listener before creating a client: librdkafka logs every refused
        # connection, which would bury the useful lines of a slow start.
        while not _port_accepts(self.port) and time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            time.sleep(0.3)
        admin = AdminClient(
            {
                "bootstrap.servers": self.bootstrap_servers,
                "socket.connection.setup.timeout.ms": 2000,
            }
        )
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise LocalKafkaError(
                    f"the broker exited while starting (code {self._process.returncode});"
                    f" last lines of {self.data_dir / 'broker.out'}:\n{self._output_tail()}"
                )
            try:
                metadata = admin.list_topics(timeout=2)
                if metadata.brokers:
                    self._warm_up_producer_ids(deadline)
                    return
            except Exception:  # noqa: BLE001 - any failure here means "not ready yet"
                pass
            time.sleep(0.5)
        self.stop()
        raise LocalKafkaError(
            f"the broker did not answer metadata within {STARTUP_TIMEOUT_SECONDS:.0f}s;"
            f" see {self.log_file}"
        )

    def _warm_up_producer_ids(self, deadline: float) -> None:
        """Have one idempotent producer get its producer id and land a record.

        On a brand-new broker the first InitProducerId creates and loads the transaction
        state topic, and producers retry "coordinator load in progress" meanwhile. Runs
        that started publishing into that window have ended with a partition lacking its
        first acknowledged batch, so the broker is reported ready only once a producer
        has gone through it. A broker that has run before already has that state.
        """
        from confluent_kafka import Producer

        while time.monotonic() < deadline:
            producer = Producer(
                {
                    "bootstrap.servers": self.bootstrap_servers,
                    "enable.idempotence": True,
                    "acks": "all",
                }
            )
            delivered: list[bool] = []
            producer.produce(
                "__devstack_warmup",
                value=b"ready",
                on_delivery=partial(_record_delivery, delivered),
            )
            producer.flush(max(1.0, min(30.0, deadline - time.monotonic())))
            if delivered == [True]:
                return
            time.sleep(0.5)
        raise LocalKafkaError("the broker never acknowledged a first idempotent record")

    def _output_tail(self) -> str:
        path = self.data_dir / "broker.out"
        if not path.is_file():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-20:])

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the broker this object started, or the one recorded in the data dir."""
        pid = self._process.pid if self._process else self._recorded_pid()
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            self.state_file.unlink(missing_ok=True)
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _alive(pid, self._process):
            time.sleep(0.2)
        if _alive(pid, self._process):
            logger.warning(
                "broker pid %s ignored SIGTERM for %.0fs; killing it", pid, timeout
            )
            os.kill(pid, signal.SIGKILL)
        self.state_file.unlink(missing_ok=True)

    def _recorded_pid(self) -> int | None:
        if not self.state_file.is_file():
            return None
        return int(json.loads(self.state_file.read_text())["pid"])

    def recorded_bootstrap(self) -> str | None:
        if not self.state_file.is_file():
            return None
        state = json.loads(self.state_file.read_text())
        return state["bootstrap"] if _alive(int(state["pid"]), None) else None


def _record_delivery(outcomes: list[bool], error: object, _message: object) -> None:
    outcomes.append(error is None)


def _alive(pid: int, process: subprocess.Popen[bytes] | None) -> bool:
    if process is not None:
        return process.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m devstack.local_kafka",
        description="Run a single-node KRaft Apache Kafka broker on loopback for development.",
    )
    parser.add_argument("action", choices=["start", "stop", "status", "fetch"])
    parser.add_argument("--data-dir", type=Path, default=REPO_ROOT / ".state" / "kafka")
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help="broker port on 127.0.0.1 (default: a free one)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")

    broker = LocalKafka(data_dir=args.data_dir, port=args.port)
    try:
        if args.action == "fetch":
            print(fetch_broker_jars())
        elif args.action == "start":
            running = broker.recorded_bootstrap()
            print(running or broker.start(detach=True))
        elif args.action == "stop":
            broker.stop()
        else:
            running = broker.recorded_bootstrap()
            print(running or "stopped")
            return 0 if running else 1
    except LocalKafkaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
