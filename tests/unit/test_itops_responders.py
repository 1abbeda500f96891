"""The IT-ops example's escalation rules: which on-call team an alert on a service goes to."""

from __future__ import annotations

from examples.itops.responders import PLATFORM_TEAM, responder


def test_errors_after_the_services_own_recent_deploy_go_to_its_team() -> None:
    answer = responder("payments")

    assert answer["team"] == "payments-oncall", answer
    assert "deploy" in answer["reason"], answer


def test_errors_naming_a_failing_upstream_go_to_the_upstreams_team() -> None:
    answer = responder("checkout")

    assert answer["team"] == "payments-oncall", answer
    assert "upstream payments" in answer["reason"], answer


def test_an_alert_nothing_explains_goes_to_the_platform_team() -> None:
    answer = responder("search")

    assert answer["team"] == PLATFORM_TEAM, answer
