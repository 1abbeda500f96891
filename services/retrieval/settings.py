"""Retrieval settings (`CONDUIT_RETRIEVAL_*`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Role = Literal["query", "ingest"]


class RetrievalSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONDUIT_RETRIEVAL_", frozen=True)

    # "embedded": files under <data_dir>/retrieval, no server; "weaviate": a Weaviate server.
    store: Literal["embedded", "weaviate"] = "embedded"
    weaviate_host: str = "127.0.0.1"
    weaviate_http_port: int = Field(default=8080, ge=1, le=65535)
    weaviate_grpc_port: int = Field(default=50051, ge=1, le=65535)
    weaviate_collection: str = Field(default="ConduitChunk", pattern=r"^[A-Z][A-Za-z0-9_]*$")
    weaviate_timeout_s: float = Field(default=10.0, gt=0)
    # What this process does: answer retrieval steps, apply the document topic, or both.
    # Separate deployments of each let ingestion and queries scale on their own.
    # Written as a comma-separated list: CONDUIT_RETRIEVAL_ROLES=ingest.
    roles: Annotated[frozenset[Role], NoDecode, Field(min_length=1)] = frozenset(
        {"query", "ingest"}
    )
    # Word pieces per chunk (MiniLM reads 256, [CLS] and [SEP] included) and carried over.
    chunk_tokens: int = Field(default=200, ge=16, le=254)
    chunk_overlap_tokens: int = Field(default=32, ge=0)

    @field_validator("roles", mode="before")
    @classmethod
    def _split_roles(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(part.strip() for part in value.split(",") if part.strip())
        return value
