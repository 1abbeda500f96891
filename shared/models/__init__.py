"""Local language-model assets and the chat vocabulary shared across services."""

from shared.models.chat import ChatMessage
from shared.models.local_gguf import GgufTokenizer, ModelNotInstalledError, locate_smollm2_gguf

__all__ = ["ChatMessage", "GgufTokenizer", "ModelNotInstalledError", "locate_smollm2_gguf"]
