"""Inference on the real Triton server (CPU) inside the six-service pipeline over Kafka: the
real SmolLM2's tokens stream to the client, and the route is recorded on the event."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conduit.stack import ServiceProcesses
from shared.bus import BusMessage, Topics
from shared.bus.kafka import KafkaBus
from shared.client import ConduitClient
from shared.contracts import ModelOutput, StepEvent
from shared.testing import KafkaServer, TritonServer
from tests.e2e.conftest import describe, load_knowledge
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
    outputs: list[ModelOutput] = []

    async def keep_output(message: BusMessage) -> None:
        outputs.append(StepEvent.FromString(message.value).model_output)

    tap = KafkaBus(kafka_server.bootstrap_servers, client_id="e2e-tap")
    await tap.start()
    listener = await tap.listen(topics.step("guardrail"), keep_output)
    try:
        chunks, response = await ask_streaming(client, "stream-triton")
    finally:
        await listener.close()
        await tap.stop()

    assert response.HasField("answer") or response.HasField("handoff"), (
        f"no outcome: {response}\n{describe(stack)}"
    )
    answered = [o for o in outputs if o.model]
    assert [o.model for o in answered] == ["triton"], f"not answered by Triton: {answered}"
    assert not answered[0].models_tried, f"a fallback was needed: {answered[0]}"
    assert len(chunks) >= 2, f"Triton's tokens did not stream: {chunks}"
    assert {c.model for c in chunks} == {"triton"}, chunks
