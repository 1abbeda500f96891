"""Dates in the wrong tense: a day still to come said to have passed, a day gone said to be
coming; read from the clause's grammar, seen from the day of the request."""

from __future__ import annotations

from datetime import date

import pytest

from shared.grounding import misdated

TODAY = date(2026, 12, 7)


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("Your order was shipped on December 9, 2026.", "December 9, 2026"),
        ("It has been delivered on 2026-12-09.", "2026-12-09"),
        ("The refund was issued on December 9.", "December 9"),
        ("It arrived tomorrow.", "tomorrow"),
        ("It will arrive on December 5.", "December 5"),
    ],
)
def test_a_day_in_a_tense_it_contradicts_is_a_finding(text: str, written: str) -> None:
    assert [f.written for f in misdated(text, TODAY)] == [written], text


@pytest.mark.parametrize(
    "text",
    [
        "It will arrive on December 9.",
        "It should be delivered by December 9.",
        "Your order is expected on December 9.",
        "It was delivered on December 5.",
        "It shipped yesterday and arrives tomorrow.",
        "Estimated delivery: December 9, 2026.",
        "It was not delivered on December 9.",
        "If it was shipped on December 9, it will be late.",
    ],
)
def test_a_day_in_a_tense_that_fits_it_is_no_finding(text: str) -> None:
    assert misdated(text, TODAY) == [], text


def test_a_finding_names_no_date() -> None:
    [finding] = misdated("It was shipped on December 9.", TODAY)

    assert "December" not in finding.describe(), finding.describe()
