"""The IT-ops HTTP API of `config/openapi/itops.yaml`: logs, deploys, health, incident tickets.

`/services/{service}/responder` names the on-call team an alert on the service goes to
(`examples.itops.responders`).

Run: `ITOPS_API_TOKEN=secret python -m examples.itops.http_api --port 8710`. Every request
needs `Authorization: Bearer $ITOPS_API_TOKEN`. `POST /tickets` is idempotent on its
`Idempotency-Key` header; a ticket goes to the on-call `team` it names (platform-oncall
when it names none). With `ITOPS_FAULTS=1` it also serves `/faults/*`, endpoints that hang,
fail, or answer too much or not JSON, for tests.
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import os
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from examples.itops import data, responders

TOKEN_ENV = "ITOPS_API_TOKEN"
FAULTS_ENV = "ITOPS_FAULTS"
TEAMS = (*responders.TEAMS.values(), responders.PLATFORM_TEAM)
# Who gets a ticket that names no team.
DEFAULT_TEAM = responders.PLATFORM_TEAM


Handler = Callable[[Request], Awaitable[Response]]


def _service(value: str | None) -> str:
    if value not in data.SERVICES:
        raise _Refused(404, f"unknown service {value!r}")
    return value


def _team(value: Any) -> str:
    if value is None:
        return DEFAULT_TEAM
    if value not in TEAMS:
        raise _Refused(422, f"unknown team {value!r}; one of {', '.join(TEAMS)}")
    return str(value)


class _Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


# What `/faults/health?answer=...` sends instead of a valid health answer; the reporter's
# email stands for personal data that must not leak into a failure message.
_MALFORMED_HEALTH: dict[str, dict[str, Any]] = {
    "wrong_type": {"service": "payments", "status": "degraded", "errors_15m": "jane@example.com"},
    "missing_field": {"service": "payments", "errors_15m": 2},
    "nested": {
        "service": "payments",
        "status": "degraded",
        "errors_15m": 2,
        "recent": [{"level": "ERROR", "message": "ok"}, {"level": 3, "message": "bad"}],
    },
}


def _malformed(name: str, answer: str) -> Response:
    """`text`: HTML. `health`: a health answer, valid or malformed as `answer` asks (`text`:
    JSON sent as text/plain, `null_count`: valid, a null count)."""
    if name == "text":
        return PlainTextResponse("<html>not json</html>")
    valid = {"service": "payments", "status": "degraded", "errors_15m": 2, "recent": []}
    if answer == "text":
        return PlainTextResponse('{"service": "payments"}')
    if answer == "null_count":
        return JSONResponse({**valid, "errors_15m": None})
    return JSONResponse(_MALFORMED_HEALTH.get(answer, valid))


def create_app(token: str, *, faults: bool = False) -> Starlette:
    """The app; `token` is the bearer token every request must carry."""
    tickets: dict[str, dict[str, Any]] = {}
    hits: Counter[str] = Counter()

    async def search_logs(request: Request) -> Response:
        service = _service(request.query_params.get("service"))
        since = int(request.query_params.get("since_minutes", "60"))
        return JSONResponse({"service": service, "entries": data.recent_logs(service, since)})

    async def list_deploys(request: Request) -> Response:
        service = _service(request.query_params.get("service"))
        return JSONResponse({"service": service, "deploys": data.recent_deploys(service)})

    async def service_health(request: Request) -> Response:
        return JSONResponse(data.health(_service(request.path_params["service"])))

    async def find_responder(request: Request) -> Response:
        return JSONResponse(responders.responder(_service(request.path_params["service"])))

    async def create_ticket(request: Request) -> Response:
        key = request.headers.get("idempotency-key")
        if not key:
            raise _Refused(400, "Idempotency-Key header required")
        if key in tickets:
            return JSONResponse(tickets[key], status_code=201)
        body = await request.json()
        ticket = {
            "ticket_id": f"INC-{4100 + len(tickets)}",
            "service": _service(body.get("service")),
            "title": str(body.get("title", "")),
            "severity": str(body.get("severity", "sev3")),
            "team": _team(body.get("team")),
            "status": "open",
        }
        tickets[key] = ticket
        return JSONResponse(ticket, status_code=201)

    async def list_tickets(request: Request) -> Response:
        return JSONResponse({"tickets": list(tickets.values())})

    async def fault(request: Request) -> Response:
        name = request.path_params["name"]
        params = request.query_params
        if name == "hits":
            return JSONResponse(dict(hits))
        hits[f"{name}:{params.get('key', '')}"] += 1
        if name == "hang":
            await asyncio.sleep(float(params.get("seconds", "60")))
        if name == "status":
            return JSONResponse({"error": "as asked"}, status_code=int(params.get("code", "500")))
        if name == "flaky" and hits[f"flaky:{params.get('key', '')}"] <= int(params["failures"]):
            return JSONResponse({"error": "try again"}, status_code=503)
        if name == "big":
            return JSONResponse({"blob": "x" * int(params.get("kilobytes", "1")) * 1024})
        if name in ("text", "health"):
            return _malformed(name, params.get("answer", "valid"))
        return JSONResponse({"ok": True, "headers": sorted(request.headers.keys())})

    def guarded(handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return JSONResponse({"error": "unauthorized"}, status_code=401)
            try:
                return await handler(request)
            except _Refused as refused:
                return JSONResponse({"error": refused.reason}, status_code=refused.status)

        return endpoint

    routes = [
        Route("/logs", guarded(search_logs)),
        Route("/deploys", guarded(list_deploys)),
        Route("/services/{service}/health", guarded(service_health)),
        Route("/services/{service}/responder", guarded(find_responder)),
        Route("/tickets", guarded(create_ticket), methods=["POST"]),
        Route("/tickets", guarded(list_tickets), methods=["GET"]),
    ]
    if faults:
        routes.append(Route("/faults/{name}", guarded(fault), methods=["GET", "POST"]))
    return Starlette(routes=routes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8710)
    options = parser.parse_args()
    app = create_app(os.environ[TOKEN_ENV], faults=os.environ.get(FAULTS_ENV) == "1")
    uvicorn.run(app, host=options.host, port=options.port, log_level="warning")


if __name__ == "__main__":
    main()
