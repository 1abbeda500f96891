"""Inference on the real Triton server (CPU) inside the six-service pipeline over Kafka: the
real SmolLM2's tokens stream to the client, and the route is recorded on the event."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conduit.stack import ServiceProcesses
from shared.bus import Topics
from shared.client import ConduitClient
from shared.testing import KafkaServer, TritonServer
from tests.e2e.conftest import describe, load_knowledge, step_events_to
from tests.e2e.test_streaming_over_kafka import ask_streaming

pytestmark = [pytest.mark.kafka, pytest.mark.triton, pytest.mark.e2e, pytest.mark.timeout(300)]


@pytest.fixture
def models_file(tmp_path: Path, triton_server: TritonServer) -> Path:
    """Triton first, the scripted stand-in as its fallback (which must not be needed)."""
    path = tmp_path / "models.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "models": {
                    "triton": {
                        "backend": "triton",
                        "url": triton_server.grpc_url,
                        "model": "smollm2",
                        "timeout_s": 120,
                    },
                    "scripted": {"backend": "scripted"},
                },
                "routes": [{"name": "default", "model": "triton", "fallbacks": ["scripted"]}],
            }
        )
    )
    return path


@pytest.fixture
def service_env(models_file: Path) -> dict[str, dict[str, str]]:
    return {"inference": {"CONDUIT_INFERENCE_MODELS_FILE": str(models_file)}}


async def test_an_answer_from_the_real_triton_server_streams_through_the_pipeline(
    stack: ServiceProcesses,
    client: ConduitClient,
    kafka_server: KafkaServer,
    topics: Topics,
    tmp_path: Path,
) -> None:
    await load_knowledge(client, tmp_path)

    async with step_events_to(kafka_server, topics, "guardrail") as checked:
        chunks, response = await ask_streaming(client, "stream-triton")

    assert response.HasField("answer") or response.HasField("handoff"), (
        f"no outcome: {response}\n{describe(stack)}"
    )
    answered = [e.model_output for e in checked if e.model_output.model]
    # An answer refused by the output check is written again, by the same model.
    assert {o.model for o in answered} == {"triton"}, f"not answered by Triton: {answered}"
    assert not any(o.models_tried for o in answered), f"a fallback was needed: {answered}"
    released = [c for c in chunks if c.generation_id == chunks[0].generation_id] if chunks else []
    assert released, f"nothing Triton wrote was streamed: {chunks}"
    assert {c.model for c in released} == {"triton"}, chunks
