"""What a customer prefers (how to be contacted, which language), recognised in a message
by the phrases of `config/preferences.yaml`, validated on load."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.config import load_yaml_model

PREFERENCES_FILE = "preferences.yaml"
VALUE_GROUP = "value"
KEY_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"


class Phrase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    pattern: str = Field(min_length=1)
    value: str | None = Field(default=None, min_length=1, max_length=100)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from exc
        return pattern

    @model_validator(mode="after")
    def _says_where_the_value_comes_from(self) -> Phrase:
        has_group = VALUE_GROUP in re.compile(self.pattern).groupindex
        if (self.value is None) == (not has_group):
            raise ValueError(f"give either `value` or a group (?P<{VALUE_GROUP}>...), not both")
        return self

    def match(self, text: str) -> str | None:
        found = re.search(self.pattern, text, flags=re.IGNORECASE)
        if found is None:
            return None
        return self.value if self.value is not None else found.group(VALUE_GROUP)


class Preference(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    phrases: list[Phrase] = Field(min_length=1)


class PreferenceCatalog(BaseModel):
    """Example: `load_preferences(config_dir).recognise("Please email me")` is
    `{"contact_channel": "email"}`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    preferences: dict[str, Preference] = Field(default_factory=dict)

    @field_validator("preferences")
    @classmethod
    def _keys_are_names(cls, preferences: dict[str, Preference]) -> dict[str, Preference]:
        for key in preferences:
            if not re.match(KEY_PATTERN, key):
                raise ValueError(f"preference {key!r} must match {KEY_PATTERN}")
        return preferences

    def recognise(self, text: str) -> dict[str, str]:
        """The preferences `text` states, by key: the first matching phrase of each."""
        stated: dict[str, str] = {}
        for key, preference in self.preferences.items():
            value = next((v for p in preference.phrases if (v := p.match(text))), None)
            if value is not None:
                stated[key] = value
        return stated


def load_preferences(config_dir: Path) -> PreferenceCatalog:
    """The catalog of `<config_dir>/preferences.yaml`; none when the file is absent."""
    path = config_dir / PREFERENCES_FILE
    return load_yaml_model(path, PreferenceCatalog) if path.exists() else PreferenceCatalog()
