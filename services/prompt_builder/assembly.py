"""Turning a step event and a template into chat messages, and trimming them to a budget."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from services.prompt_builder.templates import PromptTemplate
from shared.agent import TOOL_RESULT_PREFIX
from shared.contracts import Chunk, StepEvent, ToolExchange, Turn, Verdict
from shared.models.chat import ChatMessage
from shared.runtime import InputTooLarge

_FINDINGS_SHOWN = 4
_FINDING_CHARS = 240


@dataclass(frozen=True)
class PromptParts:
    """Everything that may go into the prompt; trimming drops parts, never rewrites them."""

    template: PromptTemplate
    request: str
    facts: Sequence[str]
    chunks: Sequence[Chunk]
    history: Sequence[Turn]
    exchanges: Sequence[ToolExchange]
    examples: int
    # Agents the model may hand the request to, with what each does.
    delegates: Mapping[str, str] = field(default_factory=dict)
    # What the customer prefers (`language=Dutch`), said now or in an earlier request.
    preferences: Sequence[str] = ()
    # The slots the answer may state facts by (`{status}`), when the template uses them.
    slots: Sequence[str] = ()
    # Why the last answer was refused, when this prompt asks for it again.
    findings: Sequence[str] = ()

    @classmethod
    def from_event(
        cls,
        template: PromptTemplate,
        event: StepEvent,
        delegates: Mapping[str, str],
        *,
        slots: Mapping[str, str],
    ) -> PromptParts:
        facts = [f"{e.kind}={e.value}" for e in event.intent.entities]
        regenerating = event.output_guard.verdict == Verdict.VERDICT_REGENERATE
        return cls(
            slots=[name for name in slots if "." not in name] if template.answer.slots else [],
            findings=_brief(event.output_guard.findings) if regenerating else [],
            delegates=dict(delegates),
            template=template,
            request=event.request.text,
            facts=facts,
            preferences=[f"{p.kind}={p.value}" for p in event.intent.preferences],
            chunks=sorted(event.retrieval.chunks, key=lambda c: -c.score),
            history=list(event.request.history),
            exchanges=list(event.tool_exchanges),
            examples=len(template.examples),
        )


def _brief(findings: Sequence[str]) -> list[str]:
    """The first few distinct findings, each cut short: a degenerate answer draws hundreds
    (one per figure it invents), and they must not crowd the prompt out of its budget."""
    distinct = list(dict.fromkeys(findings))
    shown = [
        finding if len(finding) <= _FINDING_CHARS else finding[: _FINDING_CHARS - 1] + "…"
        for finding in distinct[:_FINDINGS_SHOWN]
    ]
    if len(distinct) > _FINDINGS_SHOWN:
        shown.append(f"and {len(distinct) - _FINDINGS_SHOWN} more")
    return shown


def render(parts: PromptParts) -> list[ChatMessage]:
    system = [parts.template.system.strip()]
    if parts.chunks:
        excerpts = "\n".join(f"[{c.source_id}] {c.text}" for c in parts.chunks)
        system.append(f"Policy excerpts (cite them by their [id]):\n{excerpts}")
    if parts.facts:
        system.append("Facts from the customer's message: " + ", ".join(parts.facts))
    if parts.preferences:
        system.append("The customer's preferences (honour them): " + ", ".join(parts.preferences))
    if parts.slots:
        names = ", ".join(f"{{{name}}}" for name in parts.slots)
        system.append(
            f"Write each fact of the results as its slot, never as a value: {names}. "
            "Each slot is replaced by its value."
        )
    if parts.findings:
        system.append(
            "Your previous answer was refused: " + "; ".join(parts.findings) + ". "
            "Answer again, stating only what the results and excerpts say."
        )
    if parts.delegates:
        agents = "\n".join(f"- {name}: {about}" for name, about in parts.delegates.items())
        system.append(f"Agents you may hand the request to (action delegate):\n{agents}")
    messages = [ChatMessage(role="system", content="\n\n".join(system))]
    for example in parts.template.examples[: parts.examples]:
        messages.append(ChatMessage(role="user", content=example.user))
        messages.append(ChatMessage(role="assistant", content=example.assistant))
    messages.extend(ChatMessage(role=t.role, content=t.content) for t in parts.history)
    messages.append(ChatMessage(role="user", content=parts.request))
    for exchange in parts.exchanges:
        messages.append(ChatMessage(role="assistant", content=_call_json(exchange)))
        messages.append(ChatMessage(role="user", content=_result_text(exchange)))
    return messages


def _call_json(exchange: ToolExchange) -> str:
    arguments = json.loads(exchange.call.arguments_json or "{}")
    return json.dumps({"action": "call_tool", "tool": exchange.call.tool, "arguments": arguments})


def _result_text(exchange: ToolExchange) -> str:
    tool = exchange.call.tool
    if exchange.ok:
        return f"{TOOL_RESULT_PREFIX}{tool}: {exchange.result_json}"
    return f"{TOOL_RESULT_PREFIX}{tool}: error {exchange.error.code}: {exchange.error.message}"


def _reductions(parts: PromptParts) -> list[PromptParts]:
    """Ways to shorten, least harmful first: old turns, weak chunks, examples."""
    options = []
    if parts.history:
        options.append(replace(parts, history=parts.history[1:]))
    if len(parts.chunks) > 1:
        options.append(replace(parts, chunks=parts.chunks[:-1]))
    if parts.examples > 1:
        options.append(replace(parts, examples=parts.examples - 1))
    return options


def fit(
    parts: PromptParts, count: Callable[[Sequence[ChatMessage]], int], limit: int
) -> tuple[list[ChatMessage], int, PromptParts]:
    """Render within `limit` tokens, dropping parts as needed; raises when even the
    smallest prompt is too long."""
    while True:
        messages = render(parts)
        tokens = count(messages)
        if tokens <= limit:
            return messages, tokens, parts
        smaller = _reductions(parts)
        if not smaller:
            raise InputTooLarge(
                f"prompt needs {tokens} tokens even when trimmed; the template allows {limit}"
            )
        parts = smaller[0]
