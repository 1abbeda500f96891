"""The approvals desk as a process of the runtime: two consumers and an expiry sweep.

Not a workflow step: it serves no step topic. It consumes the approvals topic (parked
requests) and the decisions topic, and every `sweep_interval_s` resumes the requests whose
approval expired (`services.approvals.desk`). Run one replica per deployment (its state is
one SQLite file under the data dir); a restart loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.approvals.desk import ApprovalDesk
from services.approvals.pending import PendingApprovals
from shared.bus import Bus, Topics
from shared.config import ConduitSettings
from shared.contracts import DecisionEvent, ParkedRequest, StepEvent
from shared.runtime import RawConsumer, StepCall, StepService
from shared.workflow import WorkflowRegistry

SERVICE_NAME = "approvals"


class ApprovalsSettings(BaseSettings):
    """Example: `CONDUIT_APPROVALS_SWEEP_INTERVAL_S=5`."""

    model_config = SettingsConfigDict(env_prefix="CONDUIT_APPROVALS_", frozen=True)

    sweep_interval_s: float = Field(default=1.0, gt=0)


class _Process:
    """Holds the desk, which needs the host's bus, and its sweep task."""

    def __init__(self, settings: ConduitSettings, own: ApprovalsSettings) -> None:
        self._settings = settings
        self._interval_s = own.sweep_interval_s
        self._pending = PendingApprovals(settings.data_dir / SERVICE_NAME / "pending.sqlite3")
        self._registry = WorkflowRegistry.load(settings.config_dir / "workflows")
        self._desk: ApprovalDesk | None = None
        self._sweeping: asyncio.Task[None] | None = None

    def bind(self, bus: Bus) -> None:
        self._desk = ApprovalDesk(
            bus,
            Topics(self._settings.topic_prefix),
            self._pending,
            self._registry,
            principal_key=self._settings.principal_key_bytes(),
        )

    async def open(self) -> None:
        self._sweeping = asyncio.create_task(self._sweep())

    async def close(self) -> None:
        if self._sweeping is not None:
            self._sweeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeping
        await self._pending.close()

    async def on_parked(self, parked: ParkedRequest) -> None:
        await self._bound().on_parked(parked)

    async def on_decision(self, decision: DecisionEvent) -> None:
        await self._bound().on_decision(decision.decision)

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            await self._bound().expire_due()

    def _bound(self) -> ApprovalDesk:
        if self._desk is None:
            raise RuntimeError("the approvals desk was not given its bus")
        return self._desk


async def _serves_no_steps(event: StepEvent, call: StepCall) -> None:
    raise RuntimeError(f"the approvals desk serves no step ({call.workflow}.{call.step_id})")


def build(settings: ConduitSettings, own: ApprovalsSettings | None = None) -> StepService:
    process = _Process(settings, own or ApprovalsSettings())
    return StepService(
        name=SERVICE_NAME,
        handle=_serves_no_steps,
        serves_steps=False,
        bind=process.bind,
        open=process.open,
        close=process.close,
        raw_consumers=(
            RawConsumer(
                name="parked",
                topic=lambda topics: topics.approvals,
                decode=ParkedRequest.FromString,
                handle=process.on_parked,
            ),
            RawConsumer(
                name="decisions",
                topic=lambda topics: topics.approval_decisions,
                decode=DecisionEvent.FromString,
                handle=process.on_decision,
            ),
        ),
    )
