"""A real single-node Apache Kafka broker (KRaft mode) run as a child JVM process.

Used by the test setup and by ``conduit up kafka``. The broker's jars come from Maven
Central through ``scripts/install-kafka.sh`` and are cached per Kafka version.
"""

from __future__ import annotations

import asyncio
import base64
import shutil
import subprocess
import time
import uuid
from collections.abc import Coroutine, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code

from shared.testing._process import LocalServer, accepts_connections, free_ports, run_install_script

__all__ = ["KafkaServer", "KafkaStartError", "KafkaUnavailableError", "install_kafka"]

_T = TypeVar("_T")

INSTALL_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "install-kafka.sh"
INSTALL_TIMEOUT_S = 600.0
FORMAT_TIMEOUT_S = 60.0
PROBE_TIMEOUT_S = 5.0
# Short-lived test brokers: a serial collector and no JIT beyond C1 cut JVM start-up
# on small machines without hurting the light load tests put on the broker.
JVM_FLAGS = ("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Djava.awt.headless=true")


class KafkaUnavailableError(RuntimeError):
    """Java, Maven or the Kafka jars are missing, so no broker can be started here."""


class KafkaStartError(RuntimeError):
    """The broker process ran but did not become ready; the message has its log tail."""


def install_kafka(timeout: float = INSTALL_TIMEOUT_S) -> Path:
    """Run ``scripts/install-kafka.sh`` (a no-op when cached) and return the libs directory."""
    _require_java()
    return run_install_script(
        INSTALL_SCRIPT, timeout, KafkaUnavailableError, explicit_option="libs_dir"
    )


class _Ports(NamedTuple):
    client: int
    controller: int


class KafkaServer(LocalServer[_Ports]):
    """A throwaway single-node KRaft broker on loopback ports chosen when it first starts.

    Data lives in a fresh temporary directory that survives ``restart()`` and ``kill()`` and
    is removed by ``close()``. All methods block; from async code wrap slow ones in
    ``asyncio.to_thread``.

    Example::

        with KafkaServer(num_partitions=1) as kafka:
            kafka.create_topics(["orders"], partitions=3)
            producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
            ...
            kafka.restart()  # same ports, same data
    """

    _display_name = "Kafka broker"
    _log_name = "broker.log"
    _workdir_prefix = "conduit-kafka-"
    _start_error = KafkaStartError

    def __init__(
        self,
        libs_dir: Path | None = None,
        *,
        num_partitions: int = 3,
        heap: str = "512m",
        start_timeout: float = 60.0,
        stop_timeout: float = 30.0,
        extra_properties: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(start_timeout=start_timeout, stop_timeout=stop_timeout)
        self._libs_dir = libs_dir
        self._num_partitions = num_partitions
        self._heap = heap
        self._extra_properties = dict(extra_properties or {})

    @property
    def bootstrap_servers(self) -> str:
        """``host:port`` of the client listener; fixed from the first ``start()`` on."""
        return f"127.0.0.1:{self._require_ports().client}"

    def restart(self) -> None:
        """Stop and start again on the same ports and data directory."""
        self.stop()
        self.start()

    def create_topics(
        self,
        names: Iterable[str],
        partitions: int | None = None,
        *,
        configs: Mapping[str, str] | None = None,
        timeout: float = 30.0,
    ) -> None:
        """Create topics (existing ones are left as they are) and wait for their leaders."""
        topics = [
            NewTopic(name, partitions or self._num_partitions, 1, topic_configs=dict(configs or {}))
            for name in names
        ]
        try:
            _run_sync(_create_topics(self.bootstrap_servers, topics), timeout)
        except TimeoutError as exc:
            names = [topic.name for topic in topics]
            raise TimeoutError(f"topics {names} not ready within {timeout}s") from exc

    def _locate(self) -> None:
        libs_dir = self._libs_dir or install_kafka()
        _require_java()
        if not any(libs_dir.glob("kafka_*.jar")):
            raise KafkaUnavailableError(f"no Kafka jars in {libs_dir}")
        self._libs_dir = libs_dir

    def _pick_ports(self) -> _Ports:
        return _Ports(*free_ports(len(_Ports._fields)))

    def _configure(self, workdir: Path) -> None:
        self._properties_path(workdir).write_text(self._server_properties(workdir))
        self._format_storage(workdir)

    def _server_properties(self, workdir: Path) -> str:
        ports = self._require_ports()
        properties = {
            "node.id": "1",
            "process.roles": "broker,controller",
            "listeners": f"PLAINTEXT://127.0.0.1:{ports.client},"
            f"CONTROLLER://127.0.0.1:{ports.controller}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{ports.client}",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "controller.quorum.voters": f"1@127.0.0.1:{ports.controller}",
            "log.dirs": str(workdir / "data"),
            "num.partitions": str(self._num_partitions),
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "true",
            # After kill() the restarted broker may only re-register once the session of
            # its dead incarnation expires: 4 s instead of the default 9 s.
            "broker.heartbeat.interval.ms": "500",
            "broker.session.timeout.ms": "4000",
            **self._extra_properties,
        }
        return "".join(f"{key}={value}\n" for key, value in properties.items())

    def _format_storage(self, workdir: Path) -> None:
        command = [
            *self._java_command("256m"),
            "kafka.tools.StorageTool",
            "format",
            "--cluster-id",
            _random_cluster_id(),
            "--config",
            str(self._properties_path(workdir)),
        ]
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=FORMAT_TIMEOUT_S, check=False
        )
        if result.returncode != 0:
            raise KafkaStartError(
                f"formatting Kafka storage failed (exit {result.returncode}):\n"
                f"{result.stdout[-4000:]}{result.stderr[-4000:]}"
            )

    def _command(self, workdir: Path) -> list[str]:
        return [*self._java_command(self._heap), "kafka.Kafka", str(self._properties_path(workdir))]

    def _is_ready(self, deadline: float) -> bool:
        # Plain TCP first: aiokafka logs an ERROR for every refused bootstrap attempt.
        if not accepts_connections(self._require_ports().client, timeout=1.0):
            return False
        timeout = max(0.1, min(PROBE_TIMEOUT_S, deadline - time.monotonic()))
        try:
            return _run_sync(_broker_ready(self.bootstrap_servers), timeout)
        except (KafkaError, OSError, TimeoutError):
            return False

    def _java_command(self, heap: str) -> list[str]:
        java = _require_java()
        libs_dir = self._require_libs_dir()
        log_config = libs_dir.parent / "config" / "log4j2.properties"
        logging = [f"-Dlog4j2.configurationFile={log_config}"] if log_config.is_file() else []
        return [java, f"-Xmx{heap}", *JVM_FLAGS, *logging, "-cp", f"{libs_dir}/*"]

    def _require_libs_dir(self) -> Path:
        if self._libs_dir is None:
            raise RuntimeError("KafkaServer has not located its jars yet")
        return self._libs_dir

    @staticmethod
    def _properties_path(workdir: Path) -> Path:
        return workdir / "server.properties"


def _require_java() -> str:
    java = shutil.which("java")
    if java is None:
        raise KafkaUnavailableError("'java' is not on PATH; install a Java 17+ runtime")
    return java


def _random_cluster_id() -> str:
    """A Kafka ``Uuid`` string, generated here to save a JVM start for ``random-uuid``."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        # Kafka rejects ids that start with '-' because they read as CLI flags.
        if not cluster_id.startswith("-"):
            return cluster_id


def _run_sync(coroutine: Coroutine[Any, Any, _T], timeout: float) -> _T:
    """Run a coroutine to completion even when the caller is inside a running event loop."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="kafka-server") as pool:
        return pool.submit(asyncio.run, asyncio.wait_for(coroutine, timeout)).result()


async def _broker_ready(bootstrap_servers: str) -> bool:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=3000)
    try:
        await admin.start()
        cluster = await admin.describe_cluster()
        return bool(cluster["brokers"])
    finally:
        await admin.close()


async def _create_topics(bootstrap_servers: str, topics: list[NewTopic]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    try:
        await admin.start()
        response = await admin.create_topics(topics)
        for name, code, *_ in response.topic_errors:
            error = for_code(code)
            if code and error is not TopicAlreadyExistsError:
                raise error(f"creating topic {name!r}")
        await _wait_for_leaders(admin, [topic.name for topic in topics])
    finally:
        await admin.close()


async def _wait_for_leaders(admin: AIOKafkaAdminClient, names: list[str]) -> None:
    # CreateTopics returns once the controller commits; partition leaders follow shortly.
    while True:
        described = await admin.describe_topics(names)
        if all(_has_leaders(topic) for topic in described):
            return
        await asyncio.sleep(0.1)


def _has_leaders(topic: Mapping[str, Any]) -> bool:
    partitions = topic["partitions"]
    return (
        topic["error_code"] == 0
        and bool(partitions)
        and all(partition["leader"] >= 0 for partition in partitions)
    )
