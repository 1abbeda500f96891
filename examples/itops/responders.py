"""Who answers an alert: the on-call team an incident of a service goes to, by the estate's
escalation rules, applied to the service's recent logs and deploys.

1. errors began after a deploy of the service in the last hour: the service's own team;
2. its errors name an upstream service failing ("upstream payments returned 503"): the
   upstream's team;
3. otherwise: platform-oncall.

>>> responder("checkout")["team"]
'payments-oncall'
"""

from __future__ import annotations

import re
from typing import Any

from examples.itops import data

PLATFORM_TEAM = "platform-oncall"
TEAMS = {
    "payments": "payments-oncall",
    "checkout": "checkout-oncall",
    "search": "search-oncall",
}
_RECENT_DEPLOY_MINUTES = 60
_UPSTREAM = re.compile(r"\bupstream (?P<service>[a-z][a-z0-9-]*)\b")


def responder(service: str) -> dict[str, Any]:
    """`{service, team, reason}` for an alert on `service` (one of `data.SERVICES`)."""
    errors = data.recent_errors(service, _RECENT_DEPLOY_MINUTES)
    deploy = data.minutes_since_deploy(service)
    recent_deploy = deploy is not None and deploy <= _RECENT_DEPLOY_MINUTES
    if errors and recent_deploy and max(ago for ago, _ in errors) <= (deploy or 0):
        return _answer(service, TEAMS[service], f"errors began after a deploy {deploy} min ago")
    for _, message in errors:
        upstream = _UPSTREAM.search(message)
        if upstream and upstream["service"] in TEAMS:
            name = upstream["service"]
            return _answer(service, TEAMS[name], f"its upstream {name} is failing")
    return _answer(service, PLATFORM_TEAM, "no recent deploy or failing upstream explains it")


def _answer(service: str, team: str, reason: str) -> dict[str, Any]:
    return {"service": service, "team": team, "reason": reason}
