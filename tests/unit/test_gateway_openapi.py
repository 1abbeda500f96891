import json

from services.gateway.openapi import SPEC_FILE, openapi_document


def test_the_committed_openapi_spec_matches_the_http_api() -> None:
    committed = SPEC_FILE.read_text() if SPEC_FILE.exists() else ""

    assert committed == openapi_document(), f"{SPEC_FILE} is stale: run `make openapi`"


def test_the_spec_documents_every_endpoint_and_bearer_auth() -> None:
    spec = json.loads(openapi_document())

    assert set(spec["paths"]) == {
        "/v1/ask",
        "/v1/ask/stream",
        "/v1/approvals/{approval_id}",
        "/v1/sessions/{session_id}/history",
        "/healthz",
        "/readyz",
    }, spec["paths"].keys()
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert "429" in spec["paths"]["/v1/ask"]["post"]["responses"], "429 is not documented"
