"""The Kubernetes probes every step service answers on its metrics port (`/healthz`, `/readyz`),
served beside the Prometheus exposition by `shared.telemetry.metrics.serve_metrics`."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from shared.telemetry.health import Health
from shared.telemetry.metrics import serve_metrics


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def health(clock: Clock) -> Health:
    return Health(stall_s=30.0, clock=clock)


@pytest.fixture
def base_url(health: Health) -> Iterator[str]:
    server = serve_metrics("127.0.0.1", 0, health)
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as refused:
        return refused.code


def test_a_service_is_live_but_not_ready_before_it_has_subscribed(base_url: str) -> None:
    assert _status(f"{base_url}/healthz") == 200, "a fresh process is live"
    assert _status(f"{base_url}/readyz") == 503, "not ready before subscribing"


def test_a_subscribed_service_is_ready(health: Health, base_url: str) -> None:
    health.mark_ready()
    assert _status(f"{base_url}/readyz") == 200, "ready once subscribed"


def test_a_draining_service_is_no_longer_ready_but_still_live(
    health: Health, base_url: str
) -> None:
    health.mark_ready()
    health.mark_not_ready()
    assert _status(f"{base_url}/readyz") == 503, "a draining pod must leave the endpoints"
    assert _status(f"{base_url}/healthz") == 200, "draining is no reason to restart it"


def test_a_loop_that_stopped_beating_fails_liveness_and_readiness(
    health: Health, clock: Clock, base_url: str
) -> None:
    health.mark_ready()
    clock.now += 31.0
    assert _status(f"{base_url}/healthz") == 503, "a loop stalled past stall_s is not live"
    assert _status(f"{base_url}/readyz") == 503, "a stalled loop cannot serve either"


def test_a_beat_brings_a_stalled_loop_back_to_live(
    health: Health, clock: Clock, base_url: str
) -> None:
    clock.now += 31.0
    health.beat()
    assert _status(f"{base_url}/healthz") == 200, "a loop that beats again is live"


async def test_the_heartbeat_task_keeps_beating_on_the_event_loop(
    health: Health, clock: Clock
) -> None:
    beating = asyncio.create_task(health.heartbeat(every_s=0.01))
    try:
        clock.now += 31.0
        await asyncio.sleep(0.05)
        assert health.live, "the heartbeat did not record a beat on the running loop"
    finally:
        beating.cancel()


def test_the_metrics_are_still_served_on_the_same_port(base_url: str) -> None:
    with urllib.request.urlopen(f"{base_url}/metrics", timeout=5) as response:
        body = response.read().decode()
    # prometheus_client's default registry always carries the interpreter's collector.
    assert "python_info{" in body, f"/metrics is not the Prometheus exposition: {body[:200]!r}"
