"""Addressing the processes of the local stack: one key per service replica."""

import pytest

from conduit.stack import process_key


def test_the_first_replica_is_addressed_by_the_service_name_alone() -> None:
    assert process_key("tool-executor") == "tool-executor", "replica 1 must keep the plain name"


def test_further_replicas_are_addressed_by_name_and_number() -> None:
    assert process_key("intent", 2) == "intent#2", "replica 2 of intent is keyed intent#2"


def test_replica_numbers_start_at_one() -> None:
    with pytest.raises(ValueError, match="start at 1"):
        process_key("intent", 0)
