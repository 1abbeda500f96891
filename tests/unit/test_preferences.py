"""Preferences a customer states are recognised by the phrases of config/preferences.yaml;
a broken phrase fails on load naming the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from services.intent.preferences import load_preferences
from shared.config import ConfigFileError, repo_root


@pytest.mark.parametrize(
    ("text", "stated"),
    [
        ("Where is ORD-5002? Please email me when it ships.", {"contact_channel": "email"}),
        ("Call me about INV-1001", {"contact_channel": "phone"}),
        ("Could you answer in Dutch from now on?", {"language": "Dutch"}),
        ("Text me, and reply to me in german", {"contact_channel": "sms", "language": "german"}),
        ("Where is my order ORD-5002?", {}),
        ("My e-mail address changed", {}),
    ],
)
def test_the_shipped_phrases_recognise_what_a_customer_prefers(
    text: str, stated: dict[str, str]
) -> None:
    catalog = load_preferences(repo_root() / "config")
    assert catalog.recognise(text) == stated, f"for {text!r}"


def test_the_first_matching_phrase_gives_the_value(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "channel": {
                "phrases": [
                    {"pattern": "email", "value": "email"},
                    {"pattern": "e?mail", "value": "post"},
                ]
            }
        },
    )
    assert load_preferences(tmp_path).recognise("EMAIL me") == {"channel": "email"}


def test_no_preferences_file_recognises_nothing(tmp_path: Path) -> None:
    assert load_preferences(tmp_path).recognise("email me") == {}


@pytest.mark.parametrize(
    ("phrase", "complaint"),
    [
        ({"pattern": "email (me"}, "not a regular expression"),
        ({"pattern": "email me"}, "either `value` or a group"),
        ({"pattern": "in (?P<value>Dutch)", "value": "nl"}, "either `value` or a group"),
    ],
)
def test_a_broken_phrase_is_refused_naming_file_and_field(
    tmp_path: Path, phrase: dict[str, str], complaint: str
) -> None:
    path = _write(tmp_path, {"channel": {"phrases": [phrase]}})
    with pytest.raises(ConfigFileError) as refused:
        load_preferences(tmp_path)
    message = str(refused.value)
    assert str(path) in message, f"the file is not named: {message}"
    assert "preferences.channel.phrases.0" in message, f"the field is not named: {message}"
    assert complaint in message, message


def _write(directory: Path, preferences: dict[str, object]) -> Path:
    path = directory / "preferences.yaml"
    path.write_text(yaml.safe_dump({"preferences": preferences}), encoding="utf-8")
    return path
