"""Model backends the inference service can run on.

Each engine lives in its own module and is imported only where it is chosen, so a service
talking to Triton or an OpenAI-compatible server never loads llama.cpp.
"""

from services.inference.backends.base import Generation, GenerationRequest, ModelBackend

__all__ = ["Generation", "GenerationRequest", "ModelBackend"]
