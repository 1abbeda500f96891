"""How `make bench` sizes its cells and when it refuses its own figures."""

from __future__ import annotations

import re
from typing import Any

import pytest

from benchmarks.pipeline import Plan, check_every_request_paid_once


def _plan(concurrency: tuple[int, ...]) -> Plan:
    return Plan(
        concurrency=concurrency,
        requests=60,
        rounds=2,
        warmup=5,
        floor_records=300,
        request_timeout_s=60.0,
        startup_timeout_s=180.0,
        cell_budget_s=120.0,
    )


def test_a_cell_measures_the_minimum_or_its_rounds_whichever_is_more() -> None:
    plan = _plan((1, 16, 64))
    assert [plan.measured_at(c) for c in (1, 16, 64)] == [60, 60, 128]


def test_there_is_an_invoice_for_every_request_a_target_can_ask() -> None:
    # 5 warm-up, then per cell one unmeasured round and the measured requests.
    assert _plan((1, 64)).invoices == 5 + (1 + 60) + (64 + 128)


def _target(answered: int, paid: int, refunded_twice: int = 0) -> dict[str, Any]:
    cell = {
        "concurrency": 16,
        "requests": 60,
        "answered": answered,
        "refunds_paid": paid,
        "outcomes": {"answer": answered, "timeout": 60 - answered},
    }
    return {"cells": [cell], "invoices_refunded_twice": refunded_twice}


def test_figures_where_every_request_was_answered_and_paid_once_stand() -> None:
    check_every_request_paid_once({"kafka": _target(answered=60, paid=60)})


@pytest.mark.parametrize(
    ("target", "what"),
    [
        (_target(answered=59, paid=59), "'unanswered': {16: {'answer': 59, 'timeout': 1}}"),
        (_target(answered=60, paid=58), "'answered_minus_paid': {16: 2}"),
        (_target(answered=60, paid=60, refunded_twice=1), "'refunded_twice': 1"),
    ],
)
def test_figures_of_lost_unpaid_or_double_refunds_are_refused(
    target: dict[str, Any], what: str
) -> None:
    with pytest.raises(SystemExit, match=re.escape(what)):
        check_every_request_paid_once({"kafka": target})
