"""Answers stream to the client over Kafka while they are written, and the final response
still comes after the output guardrail (scripted stand-in model)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conduit.stack import ServiceProcesses
from shared.client import ConduitClient
from shared.contracts import Response, StreamChunk
from tests.e2e.conftest import STARTUP_TIMEOUT_S, describe, load_knowledge
from tests.fixtures.streams import assert_streamed_as_answered

pytestmark = [pytest.mark.kafka, pytest.mark.e2e, pytest.mark.timeout(300)]

QUESTION = "How long is the warranty and what does it cover?"


async def ask_streaming(client: ConduitClient, session: str) -> tuple[list[StreamChunk], Response]:
    chunks: list[StreamChunk] = []

    async def keep(chunk: StreamChunk) -> None:
        chunks.append(chunk)

    response = await client.ask(
        QUESTION, session_id=session, timeout_s=STARTUP_TIMEOUT_S, on_chunk=keep
    )
    return chunks, response


async def test_the_answer_streams_in_order_and_matches_the_final_response(
    stack: ServiceProcesses, client: ConduitClient, tmp_path: Path
) -> None:
    await load_knowledge(client, tmp_path)

    chunks, response = await ask_streaming(client, "stream-1")

    assert response.HasField("answer"), f"no answer: {response}\n{describe(stack)}"
    assert_streamed_as_answered(
        ((c.generation_id, c.seq, c.text) for c in chunks), response.answer.text
    )
