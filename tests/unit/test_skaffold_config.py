import json
from typing import Any

import jsonschema
import yaml

from services.catalog import SERVICE_NAMES
from shared.config import repo_root

# A copy of the published skaffold/v4beta13 JSON schema, kept with the tests.
SCHEMA = repo_root() / "tests" / "data" / "schemas" / "skaffold-v4beta13.json"


def _config() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((repo_root() / "skaffold.yaml").read_text())
    return config


def test_skaffold_config_follows_the_v4beta13_schema() -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validate(_config(), schema)


def test_skaffold_builds_one_image_per_service_in_the_catalog() -> None:
    images = [artifact["image"] for artifact in _config()["build"]["artifacts"]]
    assert images == [f"conduit-{name}" for name in SERVICE_NAMES], (
        f"skaffold.yaml artifacts {images} drifted from services/catalog.py"
    )
