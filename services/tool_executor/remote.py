"""What every tool that runs outside the process shares: one timeout per attempt, bounded
retries for tools safe to retry, a size limit on results, and failures with typed codes."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

from services.tool_executor.business import JsonObject, ToolFailure
from shared.tools import ToolSpec
from shared.tools.results import ResultSchema

TOOL_TIMEOUT = "TOOL_TIMEOUT"
TOOL_UNAVAILABLE = "TOOL_UNAVAILABLE"
TOOL_RESULT_INVALID = "TOOL_RESULT_INVALID"
TOOL_RESULT_TOO_LARGE = "TOOL_RESULT_TOO_LARGE"
TOOL_ERROR = "TOOL_ERROR"

MAX_ATTEMPTS = 3
BACKOFF_BASE_S = 0.1
BACKOFF_MAX_S = 1.0

log = logging.getLogger(__name__)


class TransientToolFailure(ToolFailure):
    """A failure another attempt may not repeat: a timeout, a refused connection, a 5xx."""


def http_failure(status: int, detail: str) -> ToolFailure:
    failure_type = TransientToolFailure if status >= 500 or status == 429 else ToolFailure
    return failure_type(f"HTTP_{status}", detail)


async def call_remote(spec: ToolSpec, attempt: Callable[[], Awaitable[Any]]) -> JsonObject:
    """The result of `attempt`, each try bounded by the tool's timeout.

    Only a tool `safe_to_retry` is tried again, and only after a transient failure, with
    jittered exponential backoff; the last failure is raised as it came.
    """
    attempts = MAX_ATTEMPTS if spec.safe_to_retry else 1
    for number in range(1, attempts + 1):
        try:
            async with asyncio.timeout(spec.timeout_s):
                value = await attempt()
        except TimeoutError:
            failure: ToolFailure = TransientToolFailure(
                TOOL_TIMEOUT, f"{spec.name} did not answer within {spec.timeout_s:g} s"
            )
        except TransientToolFailure as transient:
            failure = transient
        else:
            return as_result(spec, value)
        if number == attempts:
            if spec.side_effect and not spec.safe_to_retry:
                failure.message += "; whether it took effect is unknown"
            raise failure
        delay = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** (number - 1))
        log.info("%s: %s, try %d of %d", spec.name, failure.code, number + 1, attempts)
        await asyncio.sleep(delay * random.uniform(0.5, 1.0))
    raise AssertionError("unreachable: the loop returns or raises")


def as_result(spec: ToolSpec, value: Any) -> JsonObject:
    """`value` as a JSON object within the tool's size limit (a list or scalar is wrapped)."""
    try:
        encoded = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise ToolFailure(TOOL_RESULT_INVALID, f"{spec.name} returned no JSON: {exc}") from exc
    check_size(spec, len(encoded.encode()))
    return value if isinstance(value, dict) else {"result": value}


def check_size(spec: ToolSpec, size: int) -> None:
    if size > spec.max_result_bytes:
        raise ToolFailure(
            TOOL_RESULT_TOO_LARGE,
            f"{spec.name} returned more than {spec.max_result_bytes} bytes",
        )


def parse_json(spec: ToolSpec, text: str | bytes) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ToolFailure(TOOL_RESULT_INVALID, f"{spec.name} returned no JSON: {exc}") from exc


def check_result(spec: ToolSpec, value: Any, schema: ResultSchema, declared: str) -> None:
    """`TOOL_RESULT_INVALID` (not transient: the same answer would come again) when `value`
    does not match what the tool declares; the message names the path, not the value."""
    mismatch = schema.mismatch(value)
    if mismatch is not None:
        raise ToolFailure(
            TOOL_RESULT_INVALID, f"{spec.name}: the result does not match {declared} at {mismatch}"
        )
