"""The router's second stage (`config/workflows/route_by_model.yaml`) run in this process:
its prompt step and its model step, the real ones, on one message at a time, for
`conduit eval routes --second-stage`."""

from __future__ import annotations

import tempfile
from pathlib import Path
from types import TracebackType

from services.catalog import factory
from shared.config import ConduitSettings, ConfigFileError
from shared.contracts import StepEvent, UserRequest, new_envelope
from shared.runtime import StepCall, StepService
from shared.runtime.errors import StepError
from shared.workflow import WorkflowRegistry
from shared.workflow.router import matches

SECOND_STAGE = "route_by_model"
NO_CHOICE = "unsure"


class ModelChoice:
    """Example:

    >>> async with ModelChoice(settings) as choice:  # doctest: +SKIP
    ...     await choice.route("my packge never came")
    'order_status'
    """

    def __init__(self, settings: ConduitSettings) -> None:
        workflows = settings.config_dir / "workflows"
        workflow = WorkflowRegistry.load(workflows).get(SECOND_STAGE)
        if workflow is None:
            raise ConfigFileError(f"{workflows}: no workflow {SECOND_STAGE!r} (the second stage)")
        self._workflow = workflow
        # The model step keeps caches and budgets on disk: a throwaway directory of its own.
        self._data = tempfile.TemporaryDirectory(prefix="conduit-route-eval-")
        local = settings.model_copy(update={"data_dir": Path(self._data.name)})
        self._services: dict[str, StepService] = {
            step.service: factory(step.service)(local) for step in workflow.steps.values()
        }

    async def __aenter__(self) -> ModelChoice:
        for service in self._services.values():
            service.warm_up()
            await service.open()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        for service in self._services.values():
            await service.close()
        self._data.cleanup()

    async def route(self, text: str) -> str:
        """The route the model picks for `text`, or `unsure` when its step fails."""
        event = StepEvent(
            envelope=new_envelope(session_id="route-eval"), request=UserRequest(text=text)
        )
        event.envelope.workflow.name = SECOND_STAGE
        step_id = self._workflow.start
        while step_id in self._workflow.steps:
            step = self._workflow.steps[step_id]
            call = StepCall(workflow=SECOND_STAGE, step_id=step_id, params=step.params)
            try:
                await self._services[step.service].handle(event, call)
            except StepError:
                return NO_CHOICE
            edge = next(e for e in step.edges() if e.when is None or matches(e.when, event, step))
            step_id = edge.to
        return event.model_output.delegate_to or NO_CHOICE
