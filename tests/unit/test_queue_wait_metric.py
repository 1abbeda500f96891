"""`conduit.queue.wait`: how long a record waited between production and the start of its
handling, the step services' LLM-aware autoscaling signal (charts/conduit/README.md)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from shared.bus import BusMessage, MemoryBus, Topics
from shared.config import ConduitSettings, repo_root
from shared.runtime import StepService
from shared.runtime.dedupe import ProcessedEvents
from shared.runtime.steps import StepRunner
from shared.workflow import WorkflowRegistry
from tests.fixtures.metrics import RecordedMetrics

METRIC = "conduit.queue.wait"
TOPIC = Topics("conduit").step("intent")


async def _never_called(*_: object) -> None:
    raise AssertionError("an undecodable record must not reach the handler")


@pytest.fixture
def runner(tmp_path: Path) -> StepRunner:
    # An undecodable record is dead-lettered without a handler: the wait is recorded first.
    return StepRunner(
        StepService(name="intent", handle=_never_called),
        bus=MemoryBus(),
        registry=WorkflowRegistry.load(repo_root() / "config" / "workflows"),
        settings=ConduitSettings(data_dir=tmp_path),
        processed=ProcessedEvents(tmp_path / "processed.sqlite3"),
    )


def _record(*, produced_ms: int | None) -> BusMessage:
    return BusMessage(topic=TOPIC, value=b"\xff not a step event", timestamp_ms=produced_ms)


async def test_a_record_produced_seconds_ago_is_recorded_as_that_wait(
    runner: StepRunner, recorded_metrics: RecordedMetrics
) -> None:
    count, total_s = recorded_metrics.observed(METRIC, service="intent", topic=TOPIC)
    await runner(_record(produced_ms=int(time.time() * 1000) - 5_000))
    count_after, total_after_s = recorded_metrics.observed(METRIC, service="intent", topic=TOPIC)
    assert count_after == count + 1, "one record handled, one wait recorded"
    waited_s = total_after_s - total_s
    assert 5.0 <= waited_s < 6.0, f"a record produced 5 s ago waited {waited_s:.3f} s"


async def test_a_producer_clock_ahead_of_the_consumer_records_no_negative_wait(
    runner: StepRunner, recorded_metrics: RecordedMetrics
) -> None:
    count, total_s = recorded_metrics.observed(METRIC, service="intent", topic=TOPIC)
    await runner(_record(produced_ms=int(time.time() * 1000) + 60_000))
    count_after, total_after_s = recorded_metrics.observed(METRIC, service="intent", topic=TOPIC)
    assert (count_after - count, total_after_s - total_s) == (1, 0.0), (
        "a record from the future counts once, as no wait"
    )


async def test_a_record_without_a_production_time_records_nothing(
    runner: StepRunner, recorded_metrics: RecordedMetrics
) -> None:
    count, _ = recorded_metrics.observed(METRIC, service="intent")
    await runner(_record(produced_ms=None))
    assert recorded_metrics.observed(METRIC, service="intent")[0] == count, (
        "without a timestamp there is no wait to record"
    )


async def test_the_memory_bus_stamps_records_with_their_production_time() -> None:
    bus = MemoryBus()
    delivered: list[BusMessage] = []

    async def keep(message: BusMessage) -> None:
        delivered.append(message)

    bus.subscribe([TOPIC], group="intent", handler=keep)
    await bus.start()
    before_ms = int(time.time() * 1000)
    try:
        await bus.publish(TOPIC, b"x", key="session", headers={})
        await bus.idle()
    finally:
        await bus.stop()
    assert delivered, "the record was not delivered"
    stamped = delivered[0].timestamp_ms
    assert stamped is not None, "the memory bus gave the record no production time"
    assert before_ms <= stamped <= int(time.time() * 1000), (
        f"production time {stamped} is not the moment it was published (from {before_ms})"
    )
