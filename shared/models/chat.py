"""Chat vocabulary shared by the services that count tokens and those that generate."""

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class ChatMessage:
    """One turn of a chat, in the role/content shape every chat template expects.

    Example:
        >>> ChatMessage(role="user", content="Where is my refund?")
        ChatMessage(role='user', content='Where is my refund?')
    """

    role: str  # "system" | "user" | "assistant" | "tool"
    content: str
