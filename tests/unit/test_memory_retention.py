"""Per-tenant retention (config/memory.yaml): defaults, overrides, and errors that name the
file and the field."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from shared.config import ConduitSettings, ConfigFileError
from shared.memory import load_retention

GOOD = """
default: {history: 30d, facts: 365d, task_state: 12h}
tenants:
  acme: {history: 500ms}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "memory.yaml"
    path.write_text(text)
    return path


def test_the_shipped_retention_file_is_valid() -> None:
    retention = load_retention(ConduitSettings().config_dir / "memory.yaml")

    assert retention.default.history > timedelta(0), retention


def test_a_tenant_override_replaces_only_the_areas_it_names(tmp_path: Path) -> None:
    retention = load_retention(write(tmp_path, GOOD))

    acme = retention.for_tenant("acme")
    assert acme.history == timedelta(milliseconds=500), acme
    assert acme.task_state == timedelta(hours=12), "an area the override omits lost its default"
    assert acme.ttl_ms("history") == 500, acme


def test_a_tenant_without_overrides_gets_the_default(tmp_path: Path) -> None:
    retention = load_retention(write(tmp_path, GOOD))

    assert retention.for_tenant("globex") == retention.default


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("default: {history: 30 days, facts: 1d, task_state: 1d}", "default.history"),
        ("default: {history: 1d, facts: 0s, task_state: 1d}", "default.facts"),
        ("default: {history: 1d, facts: 1d}", "default.task_state"),
        ("default: {history: 1d, facts: 1d, task_state: 1d}\ntenants: {acme: {histroy: 1d}}",
         "tenants.acme.histroy"),
    ],
    ids=["not-a-duration", "zero", "missing-area", "misspelt-area"],
)  # fmt: skip
def test_an_invalid_file_is_refused_naming_file_and_field(
    tmp_path: Path, text: str, field: str
) -> None:
    path = write(tmp_path, text)

    with pytest.raises(ConfigFileError) as refused:
        load_retention(path)

    assert str(path) in str(refused.value), refused.value
    assert field in str(refused.value), refused.value
