"""A real single-node Apache Kafka broker (KRaft mode) run as a child JVM process.

Used by the test setup and by ``conduit up kafka``. The broker's jars come from Maven
Central through ``scripts/install-kafka.sh`` and are cached per Kafka version.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Coroutine, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self, TypeVar

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code

__all__ = ["KafkaServer", "KafkaStartError", "KafkaUnavailableError", "install_kafka"]

_T = TypeVar("_T")

INSTALL_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "install-kafka.sh"
INSTALL_TIMEOUT_S = 600.0
FORMAT_TIMEOUT_S = 60.0
PROBE_TIMEOUT_S = 5.0
LOG_TAIL_LINES = 40
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
    if not INSTALL_SCRIPT.is_file():
        raise KafkaUnavailableError(f"{INSTALL_SCRIPT} not found; pass libs_dir explicitly")
    try:
        result = subprocess.run(
            ["bash", str(INSTALL_SCRIPT)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise KafkaUnavailableError(f"{INSTALL_SCRIPT} took longer than {timeout}s") from exc
    if result.returncode != 0:
        raise KafkaUnavailableError(
            f"{INSTALL_SCRIPT} failed (exit {result.returncode}):\n{result.stderr[-4000:]}"
        )
    return Path(result.stdout.strip().splitlines()[-1])


class KafkaServer:
    """A throwaway single-node KRaft broker on loopback ports chosen when it first starts.

    Data lives in a fresh temporary directory that survives ``restart()`` and is removed by
    ``close()``. All methods block; from async code wrap slow ones in ``asyncio.to_thread``.

    Example::

        with KafkaServer(num_partitions=1) as kafka:
            kafka.create_topics(["orders"], partitions=3)
            producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
            ...
            kafka.restart()  # same ports, same data
    """

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
        self._libs_dir = libs_dir
        self._num_partitions = num_partitions
        self._heap = heap
        self._start_timeout = start_timeout
        self._stop_timeout = stop_timeout
        self._extra_properties = dict(extra_properties or {})
        self._workdir: Path | None = None
        self._ports: tuple[int, int] | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        """``host:port`` of the client listener; fixed from the first ``start()`` on."""
        if self._ports is None:
            raise RuntimeError("KafkaServer has not been started")
        return f"127.0.0.1:{self._ports[0]}"

    @property
    def running(self) -> bool:
        """Whether the broker process is alive (it may still be starting)."""
        return self._process is not None and self._process.poll() is None

    @property
    def log_path(self) -> Path:
        """The broker's combined stdout/stderr log, kept across restarts."""
        return self._require_workdir() / "broker.log"

    def start(self) -> None:
        """Start the broker and block until it answers a metadata request."""
        if self.running:
            return
        if self._workdir is None:
            self._prepare()
        self._forget_process()  # a broker that died on its own still holds its log file
        self._launch()
        try:
            self._wait_until_ready()
        except BaseException:
            self.kill()
            raise

    def stop(self) -> None:
        """Shut the broker down cleanly (SIGTERM), falling back to SIGKILL on timeout."""
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(self._stop_timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(self._stop_timeout)
        self._forget_process()

    def kill(self) -> None:
        """Kill the broker with SIGKILL, as a crash would; ``start()`` recovers the data."""
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(self._stop_timeout)
        self._forget_process()

    def restart(self) -> None:
        """Stop and start again on the same ports and data directory."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop the broker and delete its data directory."""
        self.stop()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
            atexit.unregister(self.close)

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

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _prepare(self) -> None:
        """Pick ports, write ``server.properties`` and format storage: once per instance."""
        libs_dir = self._libs_dir or install_kafka()
        _require_java()
        if not any(libs_dir.glob("kafka_*.jar")):
            raise KafkaUnavailableError(f"no Kafka jars in {libs_dir}")
        self._libs_dir = libs_dir
        workdir = Path(tempfile.mkdtemp(prefix="conduit-kafka-"))
        try:
            self._ports = _free_ports()
            self._properties_path(workdir).write_text(self._server_properties(workdir))
            self._format_storage(workdir)
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            self._ports = None
            raise
        self._workdir = workdir
        # An interrupted test run or CLI must not leave a 512 MB JVM and its data behind.
        atexit.register(self.close)

    def _server_properties(self, workdir: Path) -> str:
        client_port, controller_port = self._require_ports()
        properties = {
            "node.id": "1",
            "process.roles": "broker,controller",
            "listeners": f"PLAINTEXT://127.0.0.1:{client_port},"
            f"CONTROLLER://127.0.0.1:{controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{client_port}",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
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

    def _launch(self) -> None:
        workdir = self._require_workdir()
        command = [
            *self._java_command(self._heap),
            "kafka.Kafka",
            str(self._properties_path(workdir)),
        ]
        self._log = (workdir / "broker.log").open("ab")
        self._process = subprocess.Popen(
            command,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self._start_timeout
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                code = None if self._process is None else self._process.returncode
                raise KafkaStartError(f"Kafka broker exited with {code}:\n{self._log_tail()}")
            if self._accepts_requests(deadline):
                return
            time.sleep(0.2)
        raise KafkaStartError(
            f"Kafka broker not ready within {self._start_timeout}s:\n{self._log_tail()}"
        )

    def _accepts_requests(self, deadline: float) -> bool:
        # Plain TCP first: aiokafka logs an ERROR for every refused bootstrap attempt.
        host, port = self.bootstrap_servers.rsplit(":", 1)
        try:
            socket.create_connection((host, int(port)), timeout=1.0).close()
        except OSError:
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

    def _forget_process(self) -> None:
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def _log_tail(self) -> str:
        if self._workdir is None or not self.log_path.exists():
            return "(no broker log)"
        lines = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(lines[-LOG_TAIL_LINES:])

    def _require_workdir(self) -> Path:
        if self._workdir is None:
            raise RuntimeError("KafkaServer has not been started")
        return self._workdir

    def _require_libs_dir(self) -> Path:
        if self._libs_dir is None:
            raise RuntimeError("KafkaServer has not located its jars yet")
        return self._libs_dir

    def _require_ports(self) -> tuple[int, int]:
        if self._ports is None:
            raise RuntimeError("KafkaServer has not been started")
        return self._ports

    @staticmethod
    def _properties_path(workdir: Path) -> Path:
        return workdir / "server.properties"


def _require_java() -> str:
    java = shutil.which("java")
    if java is None:
        raise KafkaUnavailableError("'java' is not on PATH; install a Java 17+ runtime")
    return java


def _free_ports() -> tuple[int, int]:
    """Two distinct free loopback ports: client listener and controller listener."""
    with socket.socket() as first, socket.socket() as second:
        first.bind(("127.0.0.1", 0))
        second.bind(("127.0.0.1", 0))
        return first.getsockname()[1], second.getsockname()[1]


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
