"""A multi-node Apache Kafka cluster (KRaft mode) on loopback, for fault tests.

Every node is broker and controller at once; the nodes form one controller quorum with
a static voter set (``controller.quorum.voters``) and share one cluster id, each with
its own ports and storage directory under ``data_dir/node-<id>``. The jars are the same
Maven-cached ones ``devstack.local_kafka`` uses.

A node can be killed (SIGKILL, no clean shutdown: the log is not flushed and the
controller learns of the loss only from missed heartbeats) and restarted on the same
ports and storage, which is what a machine crash and reboot look like to the cluster.

``listener`` and ``extra_properties`` let a caller put a secured client listener in
front (see ``devstack.broker_security``); the default is a plain listener.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from devstack.local_kafka import (
    BROKER_LOG4J2_PROPERTIES,
    STARTUP_TIMEOUT_SECONDS,
    LocalKafkaError,
    _port_accepts,
    _random_cluster_id,
    broker_jvm_command,
    ensure_java,
    fetch_broker_jars,
    free_port,
    kafka_version,
)

logger = logging.getLogger(__name__)


@dataclass
class ClusterNode:
    """One JVM of the cluster: its id, ports, storage and (while running) process."""

    node_id: int
    data_dir: Path
    port: int
    controller_port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def config_file(self) -> Path:
        return self.data_dir / "server.properties"

    @property
    def output_file(self) -> Path:
        return self.data_dir / "broker.out"

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def output_tail(self, lines: int = 20) -> str:
        if not self.output_file.is_file():
            return ""
        text = self.output_file.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class LocalCluster:
    """``size`` combined broker/controller nodes forming one KRaft quorum."""

    data_dir: Path
    size: int = 3
    heap: str = "512m"
    listener: str = "PLAINTEXT"
    extra_properties: Mapping[str, str] = field(default_factory=dict)
    format_arguments: Sequence[str] = ()
    # librdkafka settings (security) with which the readiness check asks for metadata.
    client_properties: Mapping[str, str] = field(default_factory=dict)
    nodes: list[ClusterNode] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).resolve()
        self._java = ""
        self._classpath = ""

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(node.address for node in self.nodes)

    def start(self, timeout: float = STARTUP_TIMEOUT_SECONDS * 2) -> str:
        """Format and start every node; return the bootstrap list once all answer.

        Steps: 1. Java, jars and ports; 2. config and storage per node (one cluster
        id); 3. start every JVM; 4. wait until each node sees all brokers.
        """
        self._java = ensure_java()
        self._classpath = f"{fetch_broker_jars()}/*"
        self.nodes = [
            ClusterNode(
                node_id=node_id,
                data_dir=self.data_dir / f"node-{node_id}",
                port=free_port(),
                controller_port=free_port(),
            )
            for node_id in range(1, self.size + 1)
        ]

        cluster_id = _random_cluster_id()
        for node in self.nodes:
            self._write_config(node)
            self._format_storage(node, cluster_id)

        for node in self.nodes:
            self._launch(node)

        self.wait_until_ready(timeout)
        logger.info(
            "Kafka %s cluster of %d nodes ready at %s",
            kafka_version(),
            self.size,
            self.bootstrap_servers,
        )
        return self.bootstrap_servers

    def kill(self, node_id: int) -> None:
        """SIGKILL one node, as if its machine lost power."""
        node = self.node(node_id)
        if node.process is None or not node.running():
            raise LocalKafkaError(f"node {node_id} is not running")
        node.process.send_signal(signal.SIGKILL)
        node.process.wait(timeout=30)
        logger.warning("killed Kafka node %d (pid %s)", node_id, node.process.pid)

    def restart(self, node_id: int, timeout: float = STARTUP_TIMEOUT_SECONDS) -> None:
        """Start a stopped node again on its old ports and storage; wait for it."""
        node = self.node(node_id)
        if node.running():
            raise LocalKafkaError(f"node {node_id} is still running")
        self._launch(node)
        deadline = time.monotonic() + timeout
        self._wait_for_node(node, deadline)
        self._wait_for_brokers(deadline)
        logger.info("Kafka node %d is back at %s", node_id, node.address)

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM every running node, then SIGKILL those that outlast ``timeout``."""
        running = [node for node in self.nodes if node.running()]
        for node in running:
            assert node.process is not None
            node.process.terminate()
        deadline = time.monotonic() + timeout
        for node in running:
            assert node.process is not None
            try:
                node.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.warning(
                    "node %d ignored SIGTERM for %.0fs; killing it",
                    node.node_id,
                    timeout,
                )
                node.process.kill()
                node.process.wait()

    def node(self, node_id: int) -> ClusterNode:
        for node in self.nodes:
            if node.node_id == node_id:
                return node
        raise LocalKafkaError(f"no node {node_id} in a cluster of {self.size}")

    def wait_until_ready(self, timeout: float = STARTUP_TIMEOUT_SECONDS) -> None:
        """Wait until every node listens and metadata names every broker."""
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            self._wait_for_node(node, deadline)
        self._wait_for_brokers(deadline)

    def _wait_for_brokers(self, deadline: float) -> None:
        from confluent_kafka.admin import AdminClient

        admin = AdminClient(
            {
                "bootstrap.servers": self.bootstrap_servers,
                "socket.connection.setup.timeout.ms": 2000,
                **self.client_properties,
            }
        )
        seen: set[int] = set()
        while time.monotonic() < deadline:
            try:
                seen = set(admin.list_topics(timeout=5).brokers)
            except Exception:  # noqa: BLE001 - any failure here means "not ready yet"
                seen = set()
            if seen == {node.node_id for node in self.nodes}:
                return
            time.sleep(0.5)
        raise LocalKafkaError(
            f"metadata named only brokers {sorted(seen)} of {self.size} before the "
            f"deadline; see the broker.log of each node under {self.data_dir}"
        )

    # -- per node ---------------------------------------------------------------------

    def _write_config(self, node: ClusterNode) -> None:
        node.data_dir.mkdir(parents=True, exist_ok=True)
        voters = ",".join(
            f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in self.nodes
        )
        # Internal topics are replicated like the pipeline's: with three nodes, one loss
        # leaves two in-sync replicas, enough for acks=all writes to the offsets and
        # transaction logs.
        replicas = str(self.size)
        min_insync = str(max(1, self.size - 1))
        properties = {
            "process.roles": "broker,controller",
            "node.id": str(node.node_id),
            "controller.quorum.voters": voters,
            "listeners": f"{self.listener}://{node.address},"
            f"CONTROLLER://127.0.0.1:{node.controller_port}",
            "advertised.listeners": f"{self.listener}://{node.address}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": f"{self.listener}:{self.listener},"
            "CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": self.listener,
            "log.dirs": str(node.data_dir / "log-dirs"),
            "num.partitions": "1",
            "default.replication.factor": replicas,
            "offsets.topic.replication.factor": replicas,
            "offsets.topic.num.partitions": "6",
            "transaction.state.log.replication.factor": replicas,
            "transaction.state.log.min.isr": min_insync,
            "share.coordinator.state.topic.replication.factor": replicas,
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "true",
            **self.extra_properties,
        }
        node.config_file.write_text(
            "".join(f"{k}={v}\n" for k, v in properties.items())
        )
        (node.data_dir / "log4j2.properties").write_text(
            BROKER_LOG4J2_PROPERTIES.format(log_file=node.data_dir / "broker.log")
        )

    def _jvm_command(self, node: ClusterNode, *main: str) -> list[str]:
        return broker_jvm_command(
            self._java,
            self._classpath,
            *main,
            heap=self.heap,
            initial_heap="128m",
            log_config=node.data_dir / "log4j2.properties",
        )

    def _format_storage(self, node: ClusterNode, cluster_id: str) -> None:
        command = self._jvm_command(
            node,
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cluster_id,
            "-c",
            str(node.config_file),
            *self.format_arguments,
        )
        result = subprocess.run(command, capture_output=True, text=True, timeout=180)
        if result.returncode != 0:
            raise LocalKafkaError(
                f"formatting storage of node {node.node_id} failed: "
                f"{(result.stdout + result.stderr).strip()}"
            )

    def _launch(self, node: ClusterNode) -> None:
        command = self._jvm_command(node, "kafka.Kafka", str(node.config_file))
        with node.output_file.open("ab") as output:
            node.process = subprocess.Popen(
                command,
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def _wait_for_node(self, node: ClusterNode, deadline: float) -> None:
        """Wait until the node's listener accepts, or fail if its process exits."""
        assert node.process is not None
        while time.monotonic() < deadline:
            if node.process.poll() is not None:
                raise LocalKafkaError(
                    f"node {node.node_id} exited while starting "
                    f"(code {node.process.returncode}); last lines of "
                    f"{node.output_file}:\n{node.output_tail()}"
                )
            if _port_accepts(node.port):
                return
            time.sleep(0.5)
        raise LocalKafkaError(
            f"node {node.node_id} did not listen on {node.address} in time; "
            f"see {node.data_dir / 'broker.log'}"
        )
