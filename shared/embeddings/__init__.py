"""Local sentence embeddings (all-MiniLM-L6-v2 in pure NumPy, no torch)."""

from shared.embeddings.minilm import (
    MiniLMEmbedder,
    MiniLMWeightsNotFoundError,
    default_embedder,
)

__all__ = ["MiniLMEmbedder", "MiniLMWeightsNotFoundError", "default_embedder"]
