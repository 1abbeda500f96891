"""The real Weaviate behind the ``weaviate_server`` fixture, driven by the Python client."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import weaviate
from weaviate.classes.config import Configure, DataType, Property
from weaviate.classes.data import DataObject
from weaviate.classes.init import AdditionalConfig, Timeout
from weaviate.classes.tenants import Tenant
from weaviate.collections import Collection

from shared.testing import WeaviateServer, WeaviateUnavailableError, install_weaviate

pytestmark = pytest.mark.weaviate

VECTOR = "embedding"
CLIENT_TIMEOUT = Timeout(init=10, query=15, insert=15)


def _connect(server: WeaviateServer) -> weaviate.WeaviateClient:
    return weaviate.connect_to_custom(
        http_host="127.0.0.1",
        http_port=server.http_port,
        http_secure=False,
        grpc_host="127.0.0.1",
        grpc_port=server.grpc_port,
        grpc_secure=False,
        skip_init_checks=True,
        additional_config=AdditionalConfig(timeout=CLIENT_TIMEOUT),
    )


def _create_multi_tenant_collection(
    client: weaviate.WeaviateClient, tenants: list[str]
) -> Collection:
    """A fresh collection (unique name) with a ``text`` property and self-provided vectors."""
    collection = client.collections.create(
        f"ConduitTest{uuid.uuid4().hex[:8]}",
        properties=[Property(name="text", data_type=DataType.TEXT)],
        vector_config=Configure.Vectors.self_provided(name=VECTOR),
        multi_tenancy_config=Configure.multi_tenancy(enabled=True),
    )
    collection.tenants.create([Tenant(name=tenant) for tenant in tenants])
    return collection


def _insert(collection: Collection, objects: dict[str, list[float]]) -> dict[str, uuid.UUID]:
    """Insert ``text -> vector`` objects; return each text's object id."""
    ids = {text: uuid.uuid4() for text in objects}
    result = collection.data.insert_many(
        [
            DataObject(properties={"text": text}, vector={VECTOR: vector}, uuid=ids[text])
            for text, vector in objects.items()
        ]
    )
    assert not result.has_errors, f"insert failed: {result.errors}"
    return ids


@pytest.fixture
def client(weaviate_server: WeaviateServer) -> Iterator[weaviate.WeaviateClient]:
    client = _connect(weaviate_server)
    try:
        yield client
    finally:
        client.close()


def test_a_near_vector_query_never_returns_another_tenants_object(
    client: weaviate.WeaviateClient,
) -> None:
    collection = _create_multi_tenant_collection(client, ["tenant-a", "tenant-b"])
    tenant_a = collection.with_tenant("tenant-a")
    tenant_b = collection.with_tenant("tenant-b")
    ids_a = _insert(tenant_a, {"refunds take five days": [1.0, 0.0, 0.0]})
    # Tenant B holds the exact query vector: only isolation keeps it out of A's results.
    ids_b = _insert(tenant_b, {"tenant b secret": [1.0, 0.0, 0.0]})

    found = tenant_a.query.near_vector([1.0, 0.0, 0.0], limit=10).objects

    found_ids = {obj.uuid for obj in found}
    assert found_ids == set(ids_a.values()), f"tenant A should see only its object: {found}"
    assert not found_ids & set(ids_b.values()), f"tenant B's object leaked into A: {found}"


def test_a_hybrid_query_ranks_first_the_object_matching_both_words_and_vector(
    client: weaviate.WeaviateClient,
) -> None:
    collection = _create_multi_tenant_collection(client, ["tenant-a"]).with_tenant("tenant-a")
    ids = _insert(
        collection,
        {
            "reset your password from the login page": [0.1, 0.9, 0.0],
            "password emails can take a few minutes": [0.0, 0.0, 1.0],  # words only
            "account recovery steps": [0.0, 1.0, 0.0],  # vector only
        },
    )

    found = collection.query.hybrid(
        "password reset", vector=[0.0, 1.0, 0.0], alpha=0.5, limit=3
    ).objects

    texts = [obj.properties["text"] for obj in found]
    first = found[0].uuid if found else None
    assert first == ids["reset your password from the login page"], (
        f"the object matching words and vector should rank first: {texts}"
    )
    assert ids["account recovery steps"] in {obj.uuid for obj in found}, (
        f"the vector half of the query found nothing without the words: {texts}"
    )


def test_objects_survive_a_restart_on_the_same_work_dir() -> None:
    with WeaviateServer(install_weaviate()) as server:
        with _connect(server) as client:
            collection = _create_multi_tenant_collection(client, ["tenant-a"])
            ids = _insert(collection.with_tenant("tenant-a"), {"kept": [0.0, 0.0, 1.0]})
        server.stop()
        server.start()

        with _connect(server) as client:
            tenant_a = client.collections.get(collection.name).with_tenant("tenant-a")
            kept = tenant_a.query.fetch_object_by_id(ids["kept"], include_vector=True)

    assert kept is not None, "object lost across a restart"
    assert kept.properties["text"] == "kept", f"properties changed: {kept.properties}"
    assert kept.vector[VECTOR] == [0.0, 0.0, 1.0], f"vector changed: {kept.vector}"


def test_a_missing_binary_is_reported_as_unavailable(tmp_path: Path) -> None:
    server = WeaviateServer(tmp_path / "no-such-weaviate-server")

    with pytest.raises(WeaviateUnavailableError, match="no Weaviate binary"):
        server.start()
