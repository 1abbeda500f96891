"""A service stops within a deadline even when its shutdown hangs (its broker died first)."""

import asyncio
import time
from pathlib import Path

from shared.bus import MemoryBus
from shared.config import ConduitSettings
from shared.runtime import ServiceHost, StepService
from shared.runtime.host import stop_within


async def _nothing(*_: object) -> None:
    return None


def _host(tmp_path: Path, bus: MemoryBus) -> ServiceHost:
    service = StepService(name="intent", handle=_nothing)
    return ServiceHost(ConduitSettings(data_dir=tmp_path), bus, [service])


class HangingBus(MemoryBus):
    async def stop(self) -> None:
        await asyncio.Event().wait()  # a broker that never answers the goodbye


async def test_a_shutdown_that_hangs_gives_up_at_the_deadline(tmp_path: Path) -> None:
    host = _host(tmp_path, HangingBus())
    await host.start()

    started = time.monotonic()
    stopped = await stop_within(host, deadline_s=0.5)

    assert not stopped, "a hung shutdown must be reported"
    assert time.monotonic() - started < 5, "the deadline was not kept"


async def test_a_clean_shutdown_reports_success(tmp_path: Path) -> None:
    host = _host(tmp_path, MemoryBus())
    await host.start()

    assert await stop_within(host, deadline_s=10.0), "a clean shutdown was reported as failed"
