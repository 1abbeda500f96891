"""Schemathesis against the gateway's kept OpenAPI spec, on the live gateway process over
the real Kafka broker: inputs the spec allows and inputs that break it, asked with a key whose
limits let them through to the pipeline. Every answer must be one the spec documents (status,
content type, headers, body schema, each streamed event), and none may be a server error."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from services.gateway.openapi import SPEC_FILE
from tests.e2e.conftest import FUZZ_KEY, GatewayProcess

pytestmark = [pytest.mark.kafka, pytest.mark.e2e, pytest.mark.timeout(600)]

EXAMPLES_PER_OPERATION = 30
RUN_TIMEOUT_S = 500.0


async def test_the_spec_holds_and_nothing_is_a_server_error(
    gateway: GatewayProcess, tmp_path: Path
) -> None:
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", str(SPEC_FILE),
        "--url", str(gateway.http.base_url).rstrip("/"),
        "--header", f"Authorization: Bearer {FUZZ_KEY}",
        "--checks", "all",
        # A schema-valid question can still be refused for what it says (the input guardrail
        # blocks injections with 400, as the spec documents): not a contract breach.
        "--exclude-checks", "positive_data_acceptance",
        "--max-examples", str(EXAMPLES_PER_OPERATION),
        "--seed", "20261204",
        "--request-timeout", "60",
        "--no-color",
    ]  # fmt: skip

    run = await asyncio.to_thread(  # in tmp_path: schemathesis keeps a cache in its cwd
        subprocess.run,
        command,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        cwd=tmp_path,
    )

    report = (run.stdout + run.stderr)[-8000:]
    print(report[-1200:])  # the summary: operations, phases, cases generated
    assert run.returncode == 0, f"schemathesis found failures:\n{report}"
    assert "No issues found" in report or "passed" in report, report
