"""Running conversations through the whole pipeline with the real local model: every service
embedded in this process (as `make demo` and `conduit ask` run them), a fresh data dir per
conversation (so its payments are its own), the knowledge base indexed, and for an alert the
IT-ops example API started as a real process. Each run is judged at once.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from conduit.embedded import EmbeddedConduit
from services.inference.settings import InferenceSettings
from shared.client import ConduitClient
from shared.config import ConduitSettings
from shared.contracts import ErrorCode, Response
from tests.fixtures.itops import API_TOKEN, ItopsProcess
from tests.model.answers.dataset import Conversation
from tests.model.answers.judge import ANSWERED, Judgement, judge
from tests.model.answers.truth import Ticket, Truth, build_truth

__all__ = [
    "ITOPS_TOKEN_ENV",
    "ITOPS_URL_ENV",
    "ConversationRunner",
    "JudgedRuns",
    "RealModelRequired",
    "judge_response",
    "outcome_of",
    "read_tickets",
    "timed_ask",
]

ITOPS_URL_ENV = "ITOPS_API_URL"
ITOPS_TOKEN_ENV = "ITOPS_API_TOKEN"
DEFAULT_TIMEOUT_S = 300.0


class RealModelRequired(RuntimeError):
    """The inference settings name the scripted stand-in: there is no model to judge."""


def outcome_of(response: Response) -> str:
    """model | regenerated | template (answered), person (a handoff), error, pending."""
    kind = response.WhichOneof("outcome")
    if kind == "answer":
        # Response.answer.produced_by ("model" | "regenerated" | "template") comes with the
        # grounding work of issue 18. Read defensively: a pipeline from before the field
        # (the 781697a baseline) has no attribute, and an empty value is an older producer;
        # both are the model's own answer.
        produced = str(getattr(response.answer, "produced_by", "") or "model")
        return produced if produced in ANSWERED else "model"
    if kind == "handoff":
        return "person"
    if kind == "pending":
        return "pending"
    return "error"


class ConversationRunner:
    """Example:

    >>> runner = ConversationRunner()  # doctest: +SKIP
    >>> judgement = await runner.run(conversation)  # doctest: +SKIP
    >>> runner.close()  # doctest: +SKIP
    """

    def __init__(self, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self._timeout_s = timeout_s
        self._itops: ItopsProcess | None = None

    @staticmethod
    def require_real_model() -> None:
        if InferenceSettings().backend == "scripted":
            raise RealModelRequired(
                "CONDUIT_INFERENCE_BACKEND=scripted: the answers suite judges the real model"
            )

    async def run(self, conversation: Conversation) -> Judgement:
        """Run `conversation` once, on a fresh data dir, and judge it."""
        self.require_real_model()
        itops = self._itops_api() if conversation.service else None
        with tempfile.TemporaryDirectory(prefix="conduit-answers-") as tmp:
            data_dir = Path(tmp)
            before = await read_tickets(itops)
            with _itops_environment(itops):
                response, failure, seconds = await self._ask(conversation, data_dir)
            opened = [t for t in await read_tickets(itops) if t not in before]
            truth = build_truth(conversation, data_dir=data_dir, opened_tickets=opened)
        return judge_response(conversation, response, truth, failure=failure, seconds=seconds)

    def close(self) -> None:
        if self._itops is not None:
            self._itops.close()
            self._itops = None

    async def _ask(
        self, conversation: Conversation, data_dir: Path
    ) -> tuple[Response | None, str, float]:
        """The response (None when none came), why none came, and the seconds it took."""
        settings = ConduitSettings(data_dir=data_dir)
        async with EmbeddedConduit(settings) as conduit:
            await conduit.load_knowledge(settings.config_dir / "knowledge")
            return await timed_ask(
                conduit.client,
                conversation,
                session_id=f"answers-{conversation.id}",
                timeout_s=self._timeout_s,
            )

    def _itops_api(self) -> ItopsProcess:
        if self._itops is None:
            server = ItopsProcess("examples.itops.http_api")
            server.start()
            self._itops = server
        return self._itops


def judge_response(
    conversation: Conversation,
    response: Response | None,
    truth: Truth,
    *,
    failure: str = "",
    seconds: float = 0.0,
) -> Judgement:
    """The judgement of `conversation` from its response (None when none came, `failure`
    saying why) and the truth of what happened while it ran."""
    if response is None:
        return judge(
            conversation, outcome="error", reply="", truth=truth, seconds=seconds, reason=failure
        )
    reply, reason = _reply(response)
    return judge(
        conversation,
        outcome=outcome_of(response),
        reply=reply,
        truth=truth,
        workflow_taken=response.envelope.workflow.name,
        seconds=seconds,
        reason=reason,
        tools=tuple(
            x.call.tool + ("" if x.ok else f" (failed: {x.error.code})")
            for x in response.tool_exchanges
        ),
    )


def _reply(response: Response) -> tuple[str, str]:
    kind = response.WhichOneof("outcome")
    if kind == "answer":
        return response.answer.text, ""
    if kind == "handoff":
        return response.handoff.message, response.handoff.reason
    if kind == "error":
        return "", f"{ErrorCode.Name(response.error.code)}: {response.error.message}"
    if kind == "pending":
        return response.pending.message, f"pending approval of {response.pending.tool}"
    return "", "no outcome"


@contextmanager
def _itops_environment(itops: ItopsProcess | None) -> Iterator[None]:
    """The IT-ops API's address and token for the tool-executor, which reads them per call."""
    if itops is None:
        yield
        return
    saved = {name: os.environ.get(name) for name in (ITOPS_URL_ENV, ITOPS_TOKEN_ENV)}
    os.environ[ITOPS_URL_ENV] = itops.url
    os.environ[ITOPS_TOKEN_ENV] = API_TOKEN
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


async def read_tickets(itops: ItopsProcess | None) -> list[Ticket]:
    """Every ticket the IT-ops API holds (none without one)."""
    if itops is None:
        return []
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.get(
            f"{itops.url}/tickets", headers={"authorization": f"Bearer {API_TOKEN}"}
        )
    answer.raise_for_status()
    return [
        Ticket(
            ticket_id=str(t["ticket_id"]),
            service=str(t["service"]),
            severity=str(t["severity"]),
            team=str(t["team"]),
            title=str(t.get("title", "")),
        )
        for t in answer.json()["tickets"]
    ]


class JudgedRuns:
    """Each conversation run and judged once, on first request: the per-conversation tests
    and the aggregate check share the runs whatever their order or selection."""

    def __init__(self, runner: ConversationRunner) -> None:
        self._runner = runner
        self._done: dict[str, Judgement] = {}

    async def get(self, conversation: Conversation) -> Judgement:
        if conversation.id not in self._done:
            self._done[conversation.id] = await self._runner.run(conversation)
        return self._done[conversation.id]


async def timed_ask(
    client: ConduitClient, conversation: Conversation, *, session_id: str, timeout_s: float
) -> tuple[Response | None, str, float]:
    """The response (None when none came), why none came, and the seconds it took."""
    started = time.perf_counter()
    try:
        response = await client.ask(
            conversation.text, session_id=session_id, roles=conversation.roles, timeout_s=timeout_s
        )
    except TimeoutError:
        return None, f"no response within {timeout_s:.0f} s", time.perf_counter() - started
    return response, "", time.perf_counter() - started
