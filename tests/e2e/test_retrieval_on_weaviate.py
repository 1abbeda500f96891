"""Retrieval on the real Weaviate server, inside the six-service pipeline over Kafka, with
document ingestion and query serving in separate retrieval processes (scripted stand-in
model)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from conduit.stack import ServiceProcesses
from services.retrieval.indexed import wait_until_indexed
from services.retrieval.stores import WeaviateStore
from shared.bus import Topics
from shared.client import ConduitClient
from shared.contracts import DocumentEvent, ErrorCode
from shared.testing import KafkaServer, WeaviateServer
from tests.e2e.conftest import (
    REFUND_MESSAGE,
    STARTUP_TIMEOUT_S,
    describe,
    load_knowledge,
    step_events_to,
)

pytestmark = [pytest.mark.kafka, pytest.mark.weaviate, pytest.mark.e2e, pytest.mark.timeout(300)]


@pytest.fixture
def collection() -> str:
    """A collection of this test's own in the shared Weaviate."""
    return f"E2e{uuid.uuid4().hex[:10]}"


@pytest.fixture
def stack_env(weaviate_server: WeaviateServer, collection: str) -> dict[str, str]:
    return {
        "CONDUIT_RETRIEVAL_STORE": "weaviate",
        "CONDUIT_RETRIEVAL_WEAVIATE_HOST": "127.0.0.1",
        "CONDUIT_RETRIEVAL_WEAVIATE_HTTP_PORT": str(weaviate_server.http_port),
        "CONDUIT_RETRIEVAL_WEAVIATE_GRPC_PORT": str(weaviate_server.grpc_port),
        "CONDUIT_RETRIEVAL_WEAVIATE_COLLECTION": collection,
    }


@pytest.fixture
def service_env() -> dict[str, dict[str, str]]:
    return {"retrieval": {"CONDUIT_RETRIEVAL_ROLES": "query"}}


@pytest.fixture
async def store(weaviate_server: WeaviateServer, collection: str) -> AsyncIterator[WeaviateStore]:
    """The test's own view of the collection the services write."""
    view = WeaviateStore(
        http_host="127.0.0.1",
        http_port=weaviate_server.http_port,
        grpc_port=weaviate_server.grpc_port,
        collection=collection,
    )
    await view.start()
    try:
        yield view
    finally:
        await view.close()


@pytest.fixture
def ingest_worker(stack: ServiceProcesses) -> str:
    """A second retrieval process that only applies the document topic."""
    return stack.start("retrieval", replica=2, env={"CONDUIT_RETRIEVAL_ROLES": "ingest"})


async def test_a_refund_is_grounded_in_policy_chunks_served_by_weaviate(
    stack: ServiceProcesses,
    ingest_worker: str,
    client: ConduitClient,
    store: WeaviateStore,
    tmp_path: Path,
) -> None:
    await load_knowledge(client, tmp_path, store)

    response = await client.ask(REFUND_MESSAGE, session_id="wv-1", timeout_s=STARTUP_TIMEOUT_S)

    assert response.HasField("answer"), f"no answer: {response}\n{describe(stack)}"
    assert any(s.startswith("refund-policy#") for s in response.answer.sources), (
        f"the answer does not cite the refund policy: {list(response.answer.sources)}"
    )
    embedded_tenant = tmp_path / "retrieval" / "default"
    assert not embedded_tenant.exists(), "the embedded store was used, not Weaviate"


async def test_a_republished_document_is_served_at_its_new_version(
    stack: ServiceProcesses,
    ingest_worker: str,
    client: ConduitClient,
    store: WeaviateStore,
    kafka_server: KafkaServer,
    topics: Topics,
    tmp_path: Path,
) -> None:
    await load_knowledge(client, tmp_path, store)
    update = DocumentEvent(
        tenant_id="default",
        document_id="warranty",
        title="Warranty",
        content_type="text/html",
        text="<h1>Warranty</h1><h2>Coverage</h2><p>Every router is covered for five years.</p>",
        version="v2",
    )
    await client.publish_document(update)
    await wait_until_indexed(store, [update], STARTUP_TIMEOUT_S)

    async with step_events_to(kafka_server, topics, "prompt-builder") as drafted:
        response = await client.ask(
            "How long is the warranty and what does it cover?",
            session_id="wv-2",
            timeout_s=STARTUP_TIMEOUT_S,
        )

    assert response.HasField("answer"), f"no answer: {response}\n{describe(stack)}"
    assert "warranty#0" in response.answer.sources, list(response.answer.sources)
    # Written again after a failed check, the answer is drafted twice from one retrieval.
    retrieval = drafted[0].retrieval
    warranty = [c for c in retrieval.chunks if c.document_id == "warranty"]
    assert [(c.version, c.heading) for c in warranty] == [("v2", "Warranty > Coverage")], warranty
    assert "five years" in warranty[0].text, f"old text served: {warranty[0].text}"
    assert retrieval.store == "weaviate", retrieval.store


async def test_a_tenant_without_a_knowledge_base_gets_unknown_tenant(
    stack: ServiceProcesses, client: ConduitClient
) -> None:
    response = await client.ask(
        "How long is the warranty?",
        session_id="wv-3",
        tenant_id="globex",
        timeout_s=STARTUP_TIMEOUT_S,
    )

    assert response.HasField("error"), f"expected an error: {response}\n{describe(stack)}"
    assert response.error.code == ErrorCode.ERROR_CODE_UNKNOWN_TENANT, response.error
    assert response.error.service == "retrieval", response.error
