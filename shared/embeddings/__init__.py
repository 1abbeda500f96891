"""Local sentence embeddings (all-MiniLM-L6-v2 in pure NumPy, no torch)."""

from shared.embeddings.cache import CachedEmbedder, default_query_embedder
from shared.embeddings.embedder import Embedder
from shared.embeddings.minilm import (
    MiniLMEmbedder,
    MiniLMWeightsNotFoundError,
    default_embedder,
)
from shared.embeddings.stored import StoredVectors

__all__ = [
    "CachedEmbedder",
    "Embedder",
    "MiniLMEmbedder",
    "MiniLMWeightsNotFoundError",
    "StoredVectors",
    "default_embedder",
    "default_query_embedder",
]
