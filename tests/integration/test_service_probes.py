"""A real step service process, on the real broker, answers the Kubernetes probes on its
metrics port once it has subscribed (what charts/conduit's probes ask of every pod)."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from conduit.stack import ServiceProcesses
from shared.testing import KafkaServer
from shared.testing._process import free_ports

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(180)]

SERVICE = "prompt-builder"
READY_WITHIN_S = 120.0


def _status(url: str) -> int | None:
    """The HTTP status, or None while nothing listens."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as refused:
        return refused.code
    except OSError:
        return None


@pytest.fixture
def metrics_url(kafka_server: KafkaServer, tmp_path: Path) -> Iterator[str]:
    (port,) = free_ports(1)
    processes = ServiceProcesses(
        bootstrap=kafka_server.bootstrap_servers,
        data_dir=tmp_path,
        env={"CONDUIT_TOPIC_PREFIX": f"probes{int(time.time() * 1000)}"},
        services=[SERVICE],
        service_env={SERVICE: {"CONDUIT_METRICS_PORT": str(port)}},
    )
    processes.start_all()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        processes.stop_all()
        print(processes.log(SERVICE)[-2000:])


def test_a_subscribed_service_answers_readyz_healthz_and_metrics(metrics_url: str) -> None:
    deadline = time.monotonic() + READY_WITHIN_S
    while _status(f"{metrics_url}/readyz") != 200:
        assert time.monotonic() < deadline, f"{SERVICE} was not ready in {READY_WITHIN_S} s"
        time.sleep(0.5)
    assert _status(f"{metrics_url}/healthz") == 200, "a ready service must be live"
    with urllib.request.urlopen(f"{metrics_url}/metrics", timeout=5) as response:
        body = response.read().decode()
    # Before any step the exposition holds prometheus_client's process collector only.
    assert "process_start_time_seconds" in body, f"/metrics is no exposition: {body[:300]}"
