"""The HTTP API's OpenAPI spec, as kept in `services/gateway/openapi.json`.

`python -m services.gateway.openapi` rewrites the file; `--check` exits non-zero when it is
stale (`make openapi`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from services.gateway.http_api import create_app
from services.gateway.server import build_gateway
from services.gateway.settings import GatewaySettings
from shared.config import ConduitSettings

SPEC_FILE = Path(__file__).with_name("openapi.json")


def openapi_document() -> str:
    """The spec as JSON text. It depends on no setting: the app is built around a gateway
    on the in-memory bus that is never started."""
    gateway = build_gateway(ConduitSettings(bus="memory"), GatewaySettings())
    return json.dumps(create_app(gateway).openapi(), indent=2) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the spec file is stale")
    document = openapi_document()
    if not parser.parse_args().check:
        SPEC_FILE.write_text(document)
    elif not SPEC_FILE.exists() or SPEC_FILE.read_text() != document:
        sys.exit(f"{SPEC_FILE} is stale, run `make openapi`")


if __name__ == "__main__":
    main()
