"""The evaluation set (`conversations.yaml`): loading, checking and choosing conversations.

`make test` runs the first `DEFAULT_PER_WORKFLOW` of each of `ENFORCED_WORKFLOWS` (every
shipped workflow); with `CONDUIT_EVAL_ALL=1` (`make eval-answers`) every conversation.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "ALL_ENV",
    "CONVERSATIONS_FILE",
    "DEFAULT_PER_WORKFLOW",
    "ENFORCED_WORKFLOWS",
    "WORKFLOWS",
    "Conversation",
    "load_conversations",
    "select",
    "selected",
]

CONVERSATIONS_FILE = Path(__file__).with_name("conversations.yaml")
WORKFLOWS = ("refund", "order_status", "product_question", "support_desk", "incident_triage")
ENFORCED_WORKFLOWS = WORKFLOWS
DEFAULT_PER_WORKFLOW = 5
ALL_ENV = "CONDUIT_EVAL_ALL"

_ASKS = {
    "refund": "refund",
    "order_status": "order_status",
    "product_question": "product_question",
    "incident_triage": "incident",
}
_KNOWLEDGE = {
    "refund": ("refund-policy",),
    "order_status": ("shipping-policy",),
    "support_desk": ("refund-policy", "shipping-policy"),
    "incident_triage": (),
}
_FIELDS = {
    "id",
    "workflow",
    "text",
    "invoice",
    "order",
    "asks",
    "knowledge",
    "must_state",
    "must_mention",
    "service",
}


@dataclass(frozen=True, kw_only=True)
class Conversation:
    """One message and what it is about. `asks`: refund, order_status, product_question or
    incident (what the answer must address); `knowledge`: the documents of config/knowledge
    whose facts the answer may state."""

    id: str
    workflow: str
    text: str
    asks: str
    invoice: str | None = None
    order: str | None = None
    service: str | None = None
    knowledge: tuple[str, ...] = ()
    must_state: tuple[str, ...] = ()
    must_mention: tuple[str, ...] = ()

    @property
    def roles(self) -> tuple[str, ...]:
        return ("it_operator",) if self.workflow == "incident_triage" else ("customer",)


def load_conversations(path: Path = CONVERSATIONS_FILE) -> list[Conversation]:
    """Every conversation of the file, in file order; a malformed entry raises ValueError
    naming its id (or position) and field."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    entries = document.get("conversations") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ValueError(f"{path}: no `conversations` list")
    conversations = [_conversation(entry, number) for number, entry in enumerate(entries)]
    seen: set[str] = set()
    for conversation in conversations:
        if conversation.id in seen:
            raise ValueError(f"{path}: conversation id {conversation.id!r} is used twice")
        seen.add(conversation.id)
    return conversations


def select(
    conversations: Sequence[Conversation], *, per_workflow: int | None
) -> list[Conversation]:
    """The first `per_workflow` of each workflow (all when None), in file order."""
    taken: dict[str, int] = {}
    chosen = []
    for conversation in conversations:
        count = taken.get(conversation.workflow, 0)
        if per_workflow is None or count < per_workflow:
            chosen.append(conversation)
            taken[conversation.workflow] = count + 1
    return chosen


def selected(environ: Mapping[str, str] = os.environ) -> list[Conversation]:
    """What a test run judges: all with CONDUIT_EVAL_ALL=1, else the first five of each
    enforced workflow."""
    if environ.get(ALL_ENV, "").strip().lower() in ("1", "true", "yes"):
        return select(load_conversations(), per_workflow=None)
    enforced = [c for c in load_conversations() if c.workflow in ENFORCED_WORKFLOWS]
    return select(enforced, per_workflow=DEFAULT_PER_WORKFLOW)


def _conversation(entry: Any, number: int) -> Conversation:
    if not isinstance(entry, dict):
        raise ValueError(f"conversation #{number}: not a mapping")
    name = str(entry.get("id", f"#{number}"))
    unknown = set(entry) - _FIELDS
    if unknown:
        raise ValueError(f"conversation {name}: unknown field(s) {sorted(unknown)}")
    workflow = _text(entry, "workflow", name)
    if workflow not in WORKFLOWS:
        raise ValueError(f"conversation {name}: workflow {workflow!r} is not one of {WORKFLOWS}")
    asks = entry.get("asks", _ASKS.get(workflow))
    if asks not in ("refund", "order_status", "product_question", "incident"):
        raise ValueError(f"conversation {name}: asks {asks!r} is not known")
    conversation = Conversation(
        id=_text(entry, "id", name),
        workflow=workflow,
        text=_text(entry, "text", name),
        asks=asks,
        invoice=_optional(entry, "invoice", name),
        order=_optional(entry, "order", name),
        service=_optional(entry, "service", name),
        knowledge=_strings(entry, "knowledge", name, _KNOWLEDGE.get(workflow, ())),
        must_state=_strings(entry, "must_state", name, ()),
        must_mention=_strings(entry, "must_mention", name, ()),
    )
    _check(conversation)
    return conversation


def _check(conversation: Conversation) -> None:
    needs = {
        "refund": ("invoice",),
        "order_status": ("order",),
        "incident": ("service",),
        "product_question": ("knowledge",),
    }[conversation.asks]
    for name in needs:
        if not getattr(conversation, name):
            raise ValueError(f"conversation {conversation.id}: `{name}` is required")
    if conversation.asks == "product_question" and not (
        conversation.must_state or conversation.must_mention
    ):
        raise ValueError(f"conversation {conversation.id}: says nothing it must state")


def _text(entry: dict[str, Any], field: str, name: str) -> str:
    value = entry.get(field)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"conversation {name}: `{field}` must be a non-empty string")
    return value


def _optional(entry: dict[str, Any], field: str, name: str) -> str | None:
    return _text(entry, field, name) if field in entry else None


def _strings(
    entry: dict[str, Any], field: str, name: str, default: tuple[str, ...]
) -> tuple[str, ...]:
    value = entry.get(field)
    if value is None:
        return default
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"conversation {name}: `{field}` must be a list of strings")
    return tuple(value)
