"""The made-up estate both IT-ops servers answer about: services, their logs and deploys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

SERVICES = ("checkout", "payments", "search")

_LOGS: dict[str, list[tuple[int, str, str]]] = {
    # (minutes ago, level, message)
    "checkout": [
        (3, "ERROR", "upstream payments returned 503 (timeout after 2000 ms)"),
        (7, "ERROR", "upstream payments returned 503 (timeout after 2000 ms)"),
        (12, "WARN", "p95 latency 2.4 s above the 800 ms objective"),
        (95, "INFO", "pool resized to 40 connections"),
    ],
    "payments": [
        (4, "ERROR", "connection pool exhausted (max 20) waiting for db-primary"),
        (9, "ERROR", "connection pool exhausted (max 20) waiting for db-primary"),
        (16, "INFO", "deploy payments 2.14.0 started"),
    ],
    "search": [(30, "INFO", "index refreshed in 1.2 s")],
}

_DEPLOYS: dict[str, list[tuple[int, str, str]]] = {
    # (minutes ago, version, author)
    "payments": [(16, "2.14.0", "ci-bot"), (2900, "2.13.2", "ci-bot")],
    "checkout": [(4400, "5.2.1", "ci-bot")],
    "search": [],
}


def _at(minutes_ago: int) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat(timespec="seconds")


def recent_logs(service: str, since_minutes: int) -> list[dict[str, Any]]:
    return [
        {"at": _at(ago), "level": level, "message": message}
        for ago, level, message in _LOGS.get(service, [])
        if ago <= since_minutes
    ]


def recent_deploys(service: str) -> list[dict[str, Any]]:
    return [
        {"at": _at(ago), "version": version, "author": author}
        for ago, version, author in _DEPLOYS.get(service, [])
    ]


def recent_errors(service: str, since_minutes: int) -> list[tuple[int, str]]:
    """(minutes ago, message) of the service's errors of the last `since_minutes`."""
    return [
        (ago, message)
        for ago, level, message in _LOGS.get(service, [])
        if level == "ERROR" and ago <= since_minutes
    ]


def minutes_since_deploy(service: str) -> int | None:
    """How long ago the service was last deployed; None when it never was."""
    return min((ago for ago, _, _ in _DEPLOYS.get(service, [])), default=None)


def health(service: str) -> dict[str, Any]:
    errors = len(recent_errors(service, 15))
    return {"service": service, "status": "degraded" if errors else "healthy", "errors_15m": errors}
