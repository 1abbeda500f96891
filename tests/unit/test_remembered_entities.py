"""The ids a known customer gives are remembered for their later requests, per user; an
anonymous caller's are not, and a memory store that is down costs only the recall."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.intent.remembered import EntityMemory
from shared.config import repo_root
from shared.contracts import Entity, StepEvent, new_envelope
from shared.memory import Fact, MemoryUnavailable, SqliteMemory, load_retention


@pytest.fixture
async def memory(tmp_path: Path) -> AsyncIterator[EntityMemory]:
    retention = load_retention(repo_root() / "config" / "memory.yaml")
    remembering = EntityMemory(SqliteMemory(tmp_path / "memory.sqlite3", retention))
    yield remembering
    await remembering.close()


def _event(user_id: str, *entities: tuple[str, str]) -> StepEvent:
    event = StepEvent(envelope=new_envelope(session_id="s", user_id=user_id))
    event.intent.entities.extend(Entity(kind=k, value=v) for k, v in entities)
    return event


def _entities(event: StepEvent) -> list[tuple[str, str, bool]]:
    return [(e.kind, e.value, e.remembered) for e in event.intent.entities]


async def test_an_id_given_earlier_is_recalled_when_a_request_names_none(
    memory: EntityMemory,
) -> None:
    await memory.remember_and_recall(_event("cust-42", ("order_id", "ORD-5002")))

    later = _event("cust-42", ("amount", "10.00"))
    await memory.remember_and_recall(later)

    assert _entities(later) == [("amount", "10.00", False), ("order_id", "ORD-5002", True)]


async def test_an_id_the_request_names_wins_over_the_remembered_one(memory: EntityMemory) -> None:
    await memory.remember_and_recall(_event("cust-42", ("order_id", "ORD-5002")))

    later = _event("cust-42", ("order_id", "ORD-5001"))
    await memory.remember_and_recall(later)

    assert _entities(later) == [("order_id", "ORD-5001", False)], "no second order id"


@pytest.mark.parametrize("user_id", ["anonymous", "cust-7"])
async def test_nothing_is_recalled_for_anonymous_callers_or_other_users(
    memory: EntityMemory, user_id: str
) -> None:
    await memory.remember_and_recall(_event("anonymous", ("order_id", "ORD-5003")))
    await memory.remember_and_recall(_event("cust-42", ("order_id", "ORD-5002")))

    other = _event(user_id)
    await memory.remember_and_recall(other)

    assert _entities(other) == [], f"{user_id} was given another caller's order"


class _DownStore(SqliteMemory):
    async def facts(self, tenant_id: str, user_id: str) -> list[Fact]:
        raise MemoryUnavailable("sqlite", "disk gone")


async def test_a_memory_store_that_is_down_costs_the_recall_not_the_request(
    tmp_path: Path,
) -> None:
    retention = load_retention(repo_root() / "config" / "memory.yaml")
    remembering = EntityMemory(_DownStore(tmp_path / "m.sqlite3", retention))
    event = _event("cust-42", ("order_id", "ORD-5002"))

    await remembering.remember_and_recall(event)

    assert _entities(event) == [("order_id", "ORD-5002", False)]
    await remembering.close()


def _preferences(event: StepEvent) -> list[tuple[str, str, bool]]:
    return [(p.kind, p.value, p.remembered) for p in event.intent.preferences]


async def test_a_preference_stated_earlier_comes_with_every_later_request(
    memory: EntityMemory,
) -> None:
    stating = _event("cust-42")
    stating.intent.preferences.append(Entity(kind="contact_channel", value="email"))
    await memory.remember_and_recall(stating)

    later = _event("cust-42")
    later.intent.preferences.append(Entity(kind="language", value="Dutch"))
    await memory.remember_and_recall(later)

    assert _preferences(later) == [
        ("language", "Dutch", False),
        ("contact_channel", "email", True),
    ]


async def test_a_restated_preference_replaces_the_remembered_one(memory: EntityMemory) -> None:
    for channel in ("email", "phone"):
        event = _event("cust-42")
        event.intent.preferences.append(Entity(kind="contact_channel", value=channel))
        await memory.remember_and_recall(event)

    later = _event("cust-42")
    await memory.remember_and_recall(later)

    assert _preferences(later) == [("contact_channel", "phone", True)]
    assert _entities(later) == [], "a preference must not pass for an entity"
