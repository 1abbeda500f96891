"""Plain-text rendering of a response for people: answer, tool calls, per-step timings."""

from __future__ import annotations

import json

from shared.contracts import ErrorCode, Response


def outcome_of(response: Response) -> str:
    kind = response.WhichOneof("outcome")
    if kind == "answer":
        return "answer"
    if kind == "handoff":
        return f"handoff ({response.handoff.reason})"
    if kind == "error":
        return f"error {ErrorCode.Name(response.error.code)}: {response.error.message}"
    if kind == "pending":
        return f"pending approval {response.pending.approval_id} ({response.pending.tool})"
    return "no outcome"


def render_response(response: Response) -> str:
    lines = [f"intent:   {response.intent or '-'}", f"outcome:  {outcome_of(response)}"]
    if response.HasField("answer"):
        lines.append(f"answer:   {response.answer.text}")
        if response.answer.sources:
            lines.append(f"sources:  {', '.join(response.answer.sources)}")
    elif response.HasField("handoff"):
        lines.append(f"reply:    {response.handoff.message}")
    if response.tool_exchanges:
        lines.append("tool calls:")
        for exchange in response.tool_exchanges:
            arguments = json.loads(exchange.call.arguments_json or "{}")
            result = (
                exchange.result_json
                if exchange.ok
                else (f"error {exchange.error.code}: {exchange.error.message}")
            )
            replay = " (replayed)" if exchange.replayed else ""
            lines.append(f"  {exchange.call.tool}({_args(arguments)}) -> {result}{replay}")
    lines.append(render_steps(response))
    return "\n".join(lines)


def _args(arguments: dict[str, object]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in arguments.items())


def render_steps(response: Response) -> str:
    rows = [("#", "service", "step", "ms", "tokens")]
    total_us = 0
    for index, step in enumerate(response.steps, start=1):
        total_us += step.duration_us
        rows.append(
            (
                str(index),
                step.service,
                step.step,
                f"{step.duration_us / 1000:.1f}",
                str(step.tokens or ""),
            )
        )
    end_to_end = end_to_end_ms(response)
    rows.append(("", "total in steps", "", f"{total_us / 1000:.1f}", ""))
    rows.append(("", "end to end", "", f"{end_to_end:.1f}", ""))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    return "\n".join(
        "  "
        + "  ".join(
            cell.ljust(w) if i in (1, 2) else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    )


def end_to_end_ms(response: Response) -> float:
    if not response.steps:
        return 0.0
    last = response.steps[-1]
    finished_us = last.started_unix_us + last.duration_us
    return (finished_us - response.envelope.created_unix_ms * 1000) / 1000
