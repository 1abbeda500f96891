"""Re-running recorded requests in a sandbox: every service in this process on the
in-memory bus (`EmbeddedConduit`), on a copy of the configuration with the overrides
applied, state in a temporary directory, and the tool-executor replaced by one that
answers from the recordings (`RecordedTools`).

Nothing outside the process is called except the model backends the models file names
(re-running the model is the point): no tool, ledger, business database, memory server,
vector database or trace collector. Each request keeps its recorded id, tenant, session,
principal, budget limits and time allowance, so the inference seed (derived from the
request id and step) is the recorded one too: without overrides a deterministic model
gives the recorded answers.

Example::

    replayed = await replay(recordings, ConduitSettings(), ReplayOverrides(model="big"))
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from conduit.embedded import EmbeddedConduit
from conduit.replay.overrides import ReplayOverrides, models_file_for, prepare_config
from conduit.replay.recorded_tools import RecordedTools
from conduit.replay.recording import Recording, assemble
from services.catalog import SERVICE_NAMES
from services.inference import service as inference_service
from services.inference.settings import InferenceSettings
from services.retrieval.settings import RetrievalSettings
from shared.bus import Bus, BusMessage, Topics
from shared.config import ConduitSettings
from shared.contracts import AuditRecord, Response, StepEvent, new_envelope
from shared.runtime import ServiceFactory
from shared.tools import load_tool_catalog

DEFAULT_TIMEOUT_S = 120.0


class SandboxUnavailable(RuntimeError):
    """The settings would make the sandbox reach outside the process."""


async def replay(
    recordings: Sequence[Recording],
    settings: ConduitSettings,
    overrides: ReplayOverrides,
    *,
    knowledge_dir: Path | None = None,
) -> list[Recording]:
    """Each recording's request run again, in recorded order; the replay's recordings in
    the same order. `knowledge_dir` (default: the replay config's `knowledge/`) is loaded
    for every tenant the recordings name before the first request."""
    if RetrievalSettings().store != "embedded":
        raise SandboxUnavailable(
            "the replay sandbox uses the embedded retrieval store: unset CONDUIT_RETRIEVAL_STORE"
        )
    with tempfile.TemporaryDirectory(prefix="conduit-replay-") as scratch:
        root = Path(scratch)
        config = prepare_config(settings.config_dir, overrides, root)
        sandbox = settings.model_copy(
            update={
                "bus": "memory",
                "config_dir": config,
                "data_dir": root / "data",
                "traces": "none",
                "metrics_port": None,
                "metrics_export": "none",
                "memory_store": "sqlite",
                "memory_url": None,
            }
        )
        tools = RecordedTools(load_tool_catalog(config))
        for recording in recordings:
            tools.load(recording.request_id, recording.tool_exchanges())
        replacements: dict[str, ServiceFactory] = {"tool-executor": lambda _: tools.service()}
        models_file = models_file_for(config, overrides)
        if models_file is not None:
            replacements["inference"] = functools.partial(
                inference_service.build, inference=InferenceSettings(models_file=models_file)
            )
        # Recorded tools never wait for an approval: no desk to resume them.
        embedded = EmbeddedConduit(sandbox, replacements=replacements, approvals_desk=False)
        async with embedded as conduit:
            for tenant in sorted({r.request.envelope.tenant_id for r in recordings}):
                await conduit.load_knowledge(knowledge_dir or config / "knowledge", tenant)
            tap = RecordingTap()
            async with tap.listening(conduit.bus, conduit.topics):
                replayed = []
                for recording in recordings:
                    request = replay_request(recording.request)
                    timeout_s = _time_allowed_s(recording.request)
                    try:
                        response: Response | None = await conduit.client.submit(
                            request, timeout_s=timeout_s
                        )
                    except TimeoutError:
                        response = None  # reported as a regression: no response
                    else:
                        await conduit.bus.idle()
                    replayed.append(tap.recording(request, response))
    return replayed


def replay_request(recorded: StepEvent) -> StepEvent:
    """The recorded request as a new event: same request id, tenant, session, principal,
    budget limits and time allowance, a new event id and deadline."""
    original = recorded.envelope
    envelope = new_envelope(
        session_id=original.session_id,
        tenant_id=original.tenant_id,
        user_id=original.principal.user_id,
        roles=list(original.principal.roles),
        timeout_s=_time_allowed_s(recorded),
        request_id=original.request_id,
    )
    if original.HasField("budget"):
        envelope.budget.max_tokens = original.budget.max_tokens
        envelope.budget.max_cost_usd = original.budget.max_cost_usd
    return StepEvent(envelope=envelope, request=recorded.request)


def _time_allowed_s(request: StepEvent) -> float:
    envelope = request.envelope
    if envelope.deadline_unix_ms and envelope.created_unix_ms:
        return max((envelope.deadline_unix_ms - envelope.created_unix_ms) / 1000, 1.0)
    return DEFAULT_TIMEOUT_S


class RecordingTap:
    """Records what a bus's step and audit topics carry, for requests run one at a time.

    >>> tap = RecordingTap()
    >>> async with tap.listening(conduit.bus, conduit.topics):  # doctest: +SKIP
    ...     response = await conduit.client.submit(request)
    ...     await conduit.bus.idle()
    ...     recording = tap.recording(request, response)
    """

    def __init__(self) -> None:
        self._step_events: list[StepEvent] = []
        self._audit: list[AuditRecord] = []

    @asynccontextmanager
    async def listening(self, bus: Bus, topics: Topics) -> AsyncIterator[None]:
        listeners = [
            await bus.listen(topics.step(name), self._step_event) for name in SERVICE_NAMES
        ]
        listeners.append(await bus.listen(topics.audit, self._audit_record))
        try:
            yield
        finally:
            for listener in listeners:
                await listener.close()

    async def _step_event(self, message: BusMessage) -> None:
        self._step_events.append(StepEvent.FromString(message.value))

    async def _audit_record(self, message: BusMessage) -> None:
        self._audit.append(AuditRecord.FromString(message.value))

    def recording(self, request: StepEvent, response: Response | None) -> Recording:
        """The request's recording; call once the bus is idle after its response."""
        [recording] = assemble(
            [request],
            responses=[] if response is None else [response],
            step_events=self._step_events,
            audit=self._audit,
        )
        self._step_events.clear()
        self._audit.clear()
        return recording
