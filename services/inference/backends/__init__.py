"""Model backends the inference service can run on."""

from services.inference.backends.base import Generation, GenerationRequest, ModelBackend
from services.inference.backends.llama_cpp import LlamaCppBackend, SchemaNotSupportedError

__all__ = [
    "Generation",
    "GenerationRequest",
    "LlamaCppBackend",
    "ModelBackend",
    "SchemaNotSupportedError",
]
