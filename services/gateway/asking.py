"""Asking on behalf of an authenticated caller: checks, admission, history, the bus.

Transport-free: the HTTP and gRPC layers both call `Gateway`, so both refuse, limit and
remember alike. Whatever happens after admission ends in a `Response`: the pipeline's, or
one the gateway writes when the answer did not come in time or the bus failed.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import AsyncGenerator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from services.gateway.auth import Authenticator, Caller
from services.gateway.errors import BadRequest, NotReady, TooLarge
from services.gateway.late_answers import GROUP as LATE_ANSWERS_GROUP
from services.gateway.late_answers import (
    LateAnswers,
    awaits_more,
    customer_reply,
    mark_awaiting,
)
from services.gateway.limits import Admission, LocalAdmission
from services.gateway.settings import GatewaySettings
from shared.bus import Bus, Topics
from shared.client import ConduitClient, StreamHandler
from shared.contracts import (
    Envelope,
    Error,
    ErrorCode,
    Response,
    StepEvent,
    StreamChunk,
    Turn,
    UserRequest,
    WorkflowPosition,
    new_envelope,
    new_id,
)
from shared.memory import (
    MemoryStore,
    MemoryUnavailable,
    StoredTurn,
    prune_to_budget,
)
from shared.models.local_gguf import GgufTokenizer
from shared.runtime.approvals import Verb, decision_for, publish_decision

log = logging.getLogger(__name__)

SESSION_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
# An approval id is a call's idempotency key: request:workflow.step@n:call.
APPROVAL_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,299}$")
TURN_ROLES = ("user", "assistant")
MAX_DECISION_COMMENT_CHARS = 500
SUMMARY_WORKFLOW, SUMMARY_STEP, SUMMARY_SERVICE = "summarise_history", "draft", "prompt-builder"
SUMMARY_PREFIX = "Summary of our conversation so far: "
# Without a summary (the model could not make one), only this many newest turns go along.
SHORT_HISTORY_TURNS = 4


class SummaryFailed(Exception):
    """The model gave no summary of a session's older turns."""


@dataclass(frozen=True)
class Question:
    """What a caller asks: `Question("Where is ORD-5001?", session_id="s1", channel="http")`.

    An empty `session_id` starts a new conversation; empty `history` means the stored one.
    """

    text: str
    session_id: str = ""
    history: Sequence[Turn] = ()
    channel: str = "http"


class Gateway:
    """Example:

    >>> gateway = Gateway(
    ...     bus, Topics("conduit"), authenticator=auth, history=store, settings=GatewaySettings()
    ... )
    >>> await gateway.start()  # doctest: +SKIP
    >>> caller = gateway.authenticator.caller("Bearer demo-key-default-customer")  # doctest: +SKIP
    >>> response = await gateway.ask(caller, Question("Where is ORD-5001?"))  # doctest: +SKIP
    """

    def __init__(
        self,
        bus: Bus,
        topics: Topics,
        *,
        authenticator: Authenticator,
        history: MemoryStore,
        settings: GatewaySettings,
        admission: Admission | None = None,
        principal_key: bytes | None = None,
        vault_key: X25519PublicKey | None = None,
    ) -> None:
        """`principal_key` signs the principal of every request (`CONDUIT_PRINCIPAL_KEY`):
        services that hold the key accept no principal the gateway did not vouch for.
        `vault_key` (`CONDUIT_PII_VAULT_PUBLIC_KEY`) tokenises personal data reversibly."""
        self.authenticator = authenticator
        self.history = history
        self.settings = settings
        self.admission = admission or LocalAdmission()
        self._bus = bus
        self._topics = topics
        self._principal_key = principal_key
        self._client = ConduitClient(bus, topics, principal_key=principal_key, vault_key=vault_key)
        # Counts history the way the model will: its own tokenizer (no model loaded).
        self._tokenizer = GgufTokenizer()
        self._late = LateAnswers(history)
        self.ready = False

    async def start(self) -> None:
        """Connect to the bus and listen for responses and answer pieces; then `ready`.

        Every replica also joins the group that adds late answers to conversations."""
        self._bus.subscribe(
            [self._topics.responses], group=LATE_ANSWERS_GROUP, handler=self._late.on_response
        )
        await self._bus.start()
        await self._client.start()
        self.ready = True

    async def close(self) -> None:
        self.ready = False
        await self._client.close()
        await self._bus.stop()
        await self.history.close()
        await self.admission.close()

    async def ask(self, caller: Caller, question: Question) -> Response:
        """The terminal response; `GatewayError` when refused before reaching the bus."""
        async with self._admitted(caller, question):
            event = await self._request_event(caller, question)
            return await self._submit(event, on_chunk=None)

    async def ask_streaming(
        self, caller: Caller, question: Question
    ) -> AsyncGenerator[Envelope | StreamChunk | Response]:
        """The request's envelope once admitted (refusals raise `GatewayError` before it),
        then the answer's pieces as they come, then the terminal response, always last.

        The admission is held until the stream ends or is closed.
        """
        async with self._admitted(caller, question):
            event = await self._request_event(caller, question)
            yield event.envelope
            pieces: asyncio.Queue[StreamChunk | Response] = asyncio.Queue()

            async def ask() -> None:
                pieces.put_nowait(await self._submit(event, on_chunk=pieces.put))

            asking = asyncio.create_task(ask())
            try:
                while True:
                    piece = await pieces.get()
                    yield piece
                    if isinstance(piece, Response):
                        return
            finally:
                asking.cancel()

    def _admitted(self, caller: Caller, question: Question) -> AbstractAsyncContextManager[None]:
        if not self.ready:
            raise NotReady("the gateway is not connected to the bus yet")
        self._check(question)
        return self.admission.admit(
            caller.limit_scope, caller.limits or self.settings.default_limits
        )

    def _check(self, question: Question) -> None:
        if not question.text.strip():
            raise BadRequest("text is empty")
        if len(question.text) > self.settings.max_text_chars:
            raise TooLarge(
                f"text has {len(question.text)} characters; at most {self.settings.max_text_chars}"
            )
        if question.session_id and not SESSION_ID_PATTERN.match(question.session_id):
            raise BadRequest(f"session_id must match {SESSION_ID_PATTERN.pattern}")
        if len(question.history) > self.settings.max_history_turns:
            raise TooLarge(
                f"history has {len(question.history)} turns; "
                f"at most {self.settings.max_history_turns}"
            )
        for turn in question.history:
            if turn.role not in TURN_ROLES:
                raise BadRequest(f"history turn role must be one of {TURN_ROLES}: {turn.role!r}")
            if len(turn.content) > self.settings.max_text_chars:
                raise TooLarge(f"a history turn is over {self.settings.max_text_chars} characters")

    async def _request_event(self, caller: Caller, question: Question) -> StepEvent:
        session_id = question.session_id or new_id()
        history = list(question.history) or await self._stored_history(caller, session_id)
        return StepEvent(
            envelope=self._envelope(caller, session_id),
            request=UserRequest(
                text=question.text,
                history=history,
                channel=question.channel,
                history_from_caller=bool(question.history),
            ),
        )

    async def _submit(self, event: StepEvent, on_chunk: StreamHandler | None) -> Response:
        try:
            response = await self._client.submit(
                event, timeout_s=self.settings.request_timeout_s, on_chunk=on_chunk
            )
        except TimeoutError:
            return _gateway_error(
                event, ErrorCode.ERROR_CODE_DEADLINE_EXCEEDED, "no answer in time"
            )
        except Exception:
            log.exception("asking over the bus failed (request %s)", event.envelope.request_id)
            return _gateway_error(event, ErrorCode.ERROR_CODE_INTERNAL, "the bus is unavailable")
        await self._remember(event, response)
        return response

    async def _stored_history(self, caller: Caller, session_id: str) -> list[Turn]:
        """The session's stored turns within the history budget, older ones as a summary."""
        tenant = caller.tenant_id
        try:
            turns = await self.history.turns(tenant, session_id, last=self.settings.history_turns)
            summary = await self.history.summary(tenant, session_id)
            pruned = await prune_to_budget(
                self.history,
                tenant,
                session_id,
                turns,
                summary,
                budget_tokens=self.settings.history_budget_tokens,
                count_tokens=self._count_tokens,
                summarise=functools.partial(self._summarise, caller, session_id),
            )
        except MemoryUnavailable as exc:
            # Asking without the conversation so far would answer out of context: refuse.
            raise NotReady(f"conversation history unavailable: {exc.reason}") from exc
        except SummaryFailed as exc:
            log.warning("history not summarised, newest turns only: %s", exc)
            return [Turn(role=t.role, content=t.content) for t in turns[-SHORT_HISTORY_TURNS:]]
        kept = [Turn(role=t.role, content=t.content) for t in pruned.turns]
        if pruned.summary is None:
            return kept
        recap = Turn(role="assistant", content=f"{SUMMARY_PREFIX}{pruned.summary.text}")
        return [recap, *kept]

    def _envelope(self, caller: Caller, session_id: str) -> Envelope:
        """A new request's envelope: the caller's tenant, user and roles, the gateway's deadline."""
        return new_envelope(
            session_id=session_id,
            tenant_id=caller.tenant_id,
            user_id=caller.user_id,
            roles=caller.roles,
            timeout_s=self.settings.request_timeout_s,
        )

    async def _count_tokens(self, text: str) -> int:
        return await asyncio.to_thread(self._tokenizer.count, text)

    async def _summarise(
        self, caller: Caller, session_id: str, previous: str, turns: Sequence[StoredTurn]
    ) -> str:
        """A new summary by the model: the `summarise_history` workflow, over the bus."""
        lines = [f"Previous summary: {previous or '(none)'}."]
        lines += [f"{turn.role}: {turn.content}" for turn in turns]
        event = StepEvent(
            envelope=self._envelope(caller, session_id),
            request=UserRequest(text="\n".join(lines)),
        )
        event.envelope.workflow.CopyFrom(WorkflowPosition(name=SUMMARY_WORKFLOW, step=SUMMARY_STEP))
        try:
            response = await self._client.submit(
                event, timeout_s=self.settings.request_timeout_s, to_service=SUMMARY_SERVICE
            )
        except TimeoutError as exc:
            raise SummaryFailed("no summary in time") from exc
        if not response.HasField("answer"):
            raise SummaryFailed(f"the summary request ended with {response.WhichOneof('outcome')}")
        return response.answer.text

    async def _remember(self, event: StepEvent, response: Response) -> None:
        """Store the exchange; a request that may still be answered (parked for an approval,
        handed to a person) is marked so its later replies join the conversation too."""
        reply = customer_reply(response)
        if not reply:
            return
        envelope = event.envelope
        try:
            await self.history.append_turns(
                envelope.tenant_id,
                envelope.session_id,
                envelope.request_id,
                [
                    Turn(role="user", content=event.request.text),
                    Turn(role="assistant", content=reply),
                ],
            )
            if awaits_more(response):
                await mark_awaiting(self.history, response, reply)
        except MemoryUnavailable:
            # The caller still gets the answer; only the next ask lacks this exchange.
            log.warning("history not stored (request %s)", envelope.request_id, exc_info=True)

    async def decide(self, caller: Caller, approval_id: str, verb: Verb, comment: str) -> None:
        """The caller's decision on a waiting tool call, vouched for like a request."""
        if not self.ready:
            raise NotReady("the gateway is not connected to the bus yet")
        if not APPROVAL_ID_PATTERN.match(approval_id):
            raise BadRequest(f"approval_id must match {APPROVAL_ID_PATTERN.pattern}")
        if len(comment) > MAX_DECISION_COMMENT_CHARS:
            raise BadRequest(f"comment is over {MAX_DECISION_COMMENT_CHARS} characters")
        decision = decision_for(
            approval_id,
            verb,
            user=caller.user_id,
            roles=caller.roles,
            comment=comment,
            key=self._principal_key,
        )
        await publish_decision(self._bus, self._topics, decision)

    async def session_history(self, caller: Caller, session_id: str) -> list[StoredTurn]:
        """The caller's tenant's turns of `session_id` (another tenant's session is empty)."""
        if not SESSION_ID_PATTERN.match(session_id):
            raise BadRequest(f"session_id must match {SESSION_ID_PATTERN.pattern}")
        try:
            return await self.history.turns(caller.tenant_id, session_id)
        except MemoryUnavailable as exc:
            raise NotReady(f"conversation history unavailable: {exc.reason}") from exc


def _gateway_error(event: StepEvent, code: ErrorCode, message: str) -> Response:
    return Response(
        envelope=event.envelope,
        error=Error(code=code, message=message, service="gateway", step="ask"),
    )
