import json
from typing import Any

import jsonschema
import pytest
import yaml

from services.catalog import PROCESS_NAMES
from shared.config import repo_root

# A copy of the published skaffold/v4beta13 JSON schema, kept with the tests.
SCHEMA = repo_root() / "tests" / "data" / "schemas" / "skaffold-v4beta13.json"
TRITON = "conduit-triton"
SERVICE_IMAGES = [f"conduit-{name}" for name in PROCESS_NAMES]


def _config() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((repo_root() / "skaffold.yaml").read_text())
    return config


def _profile(name: str) -> dict[str, Any]:
    (profile,) = [p for p in _config()["profiles"] if p["name"] == name]
    return dict(profile)


def _images(build: dict[str, Any]) -> list[str]:
    return [artifact["image"] for artifact in build["artifacts"]]


def _release(deploy: dict[str, Any]) -> dict[str, Any]:
    (release,) = deploy["helm"]["releases"]
    return dict(release)


def test_skaffold_config_follows_the_v4beta13_schema() -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validate(_config(), schema)


def test_skaffold_builds_one_image_per_process_in_the_catalog_and_triton() -> None:
    images = _images(_config()["build"])
    assert images == [*SERVICE_IMAGES, TRITON], (
        f"skaffold.yaml artifacts {images} drifted from services/catalog.py"
    )


def test_triton_is_built_from_the_dockerfiles_triton_target() -> None:
    (triton,) = [a for a in _config()["build"]["artifacts"] if a["image"] == TRITON]
    assert triton["docker"]["target"] == "triton"
    assert "FROM nvcr.io/nvidia/tritonserver:" in (repo_root() / "Dockerfile").read_text()


@pytest.mark.parametrize("profile", [None, "local", "production"])
def test_every_deploy_sets_the_image_of_every_artifact_it_builds(profile: str | None) -> None:
    config = _config() if profile is None else _profile(profile)
    build = config.get("build", _config()["build"])
    templates = _release(config["deploy"])["setValueTemplates"]
    expected = {
        (
            "triton.image"
            if image == TRITON
            else f"services.{image.removeprefix('conduit-')}.image"
        ): "{{.IMAGE_FULLY_QUALIFIED_" + image.replace("-", "_") + "}}"
        for image in _images(build)
    }
    assert templates == expected, f"{profile or 'default'}: image values {templates}"


@pytest.mark.parametrize("profile", [None, "local", "production"])
def test_every_release_deploys_the_chart_with_values_files_that_exist(profile: str | None) -> None:
    config = _config() if profile is None else _profile(profile)
    release = _release(config["deploy"])
    chart = repo_root() / release["chartPath"]
    assert (chart / "Chart.yaml").is_file(), f"no chart at {release['chartPath']}"
    for values in release.get("valuesFiles", []):
        assert (repo_root() / values).is_file(), f"{profile}: no values file {values}"


def test_the_local_profile_runs_the_local_values_without_building_triton() -> None:
    local = _profile("local")
    assert _images(local["build"]) == SERVICE_IMAGES, "local builds what it does not run"
    assert _release(local["deploy"])["valuesFiles"] == ["charts/conduit/values-local.yaml"]
    assert local["build"]["local"]["push"] is False, "a local loop must not push images"


def test_the_production_profile_runs_the_production_and_gpu_values() -> None:
    assert _release(_profile("production")["deploy"])["valuesFiles"] == [
        "charts/conduit/values-production.yaml",
        "charts/conduit/values-gpu.yaml",
    ]
