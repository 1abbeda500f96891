"""The chart lints and renders for every values set, and every object it renders is one
the API server would accept: Kubernetes kinds against the Kubernetes schemas (strict:
unknown fields fail), ScaledObjects against KEDA's CRD schema (made as strict)."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate  # type: ignore[import-untyped]  # ships no type hints
import pytest
import yaml

from shared.config import repo_root
from tests.chart.rendering import KUBE_VERSION, VALUES_SETS, Manifest, Rendered, run_helm

KEDA_CRD = repo_root() / "tests" / "data" / "schemas" / "keda.sh_scaledobjects.yaml"
# Kinds of operators whose CRD schemas are not kept here (Prometheus Operator, Strimzi):
# only their identity is checked. Any other kind must be validated against a schema.
WITHOUT_SCHEMA = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("kafka.strimzi.io/v1beta2", "Kafka"),
    ("kafka.strimzi.io/v1beta2", "KafkaNodePool"),
    ("kafka.strimzi.io/v1beta2", "KafkaTopic"),
}


@pytest.mark.parametrize("values_set", sorted(VALUES_SETS))
def test_helm_lint_passes_with_warnings_as_errors(helm: Path, values_set: str) -> None:
    done = run_helm(helm, "lint", VALUES_SETS[values_set], flags=["--strict"])
    assert done.returncode == 0, f"helm lint --strict ({values_set}) failed:\n{done.stdout}"


def test_every_kubernetes_object_follows_the_strict_kubernetes_schema(
    rendered: Rendered,
) -> None:
    for manifest in rendered.objects:
        if _identity(manifest) in WITHOUT_SCHEMA or manifest["kind"] == "ScaledObject":
            continue
        try:
            kubernetes_validate.validate(manifest, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as invalid:
            pytest.fail(f"{rendered.name}: {_label(manifest)}: {invalid.message}", pytrace=False)


def test_every_scaled_object_follows_the_keda_crd_schema(rendered: Rendered) -> None:
    scaled = list(rendered.of_kind("ScaledObject"))
    for manifest in scaled:
        errors = sorted(_keda_validator().iter_errors(manifest), key=str)
        assert not errors, f"{rendered.name}: {_label(manifest)}: {errors[0].message}"


def test_operator_kinds_without_a_schema_are_named_and_have_a_spec(rendered: Rendered) -> None:
    for manifest in rendered.objects:
        if _identity(manifest) in WITHOUT_SCHEMA:
            assert manifest["metadata"].get("name"), f"{rendered.name}: unnamed {_label(manifest)}"
            assert isinstance(manifest.get("spec"), dict), f"{_label(manifest)} has no spec"


def test_the_strict_keda_schema_rejects_an_unknown_field() -> None:
    manifest: Manifest = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "x"},
        "spec": {"scaleTargetRef": {"name": "x"}, "triggers": [], "maxReplicas": 3},
    }
    assert list(_keda_validator().iter_errors(manifest)), "maxReplicas (not a KEDA field) passed"


def _identity(manifest: Manifest) -> tuple[str, str]:
    return manifest["apiVersion"], manifest["kind"]


def _label(manifest: Manifest) -> str:
    return f"{manifest['kind']} {manifest['metadata'].get('name')}"


@cache
def _keda_validator() -> jsonschema.Draft7Validator:
    crd = yaml.safe_load(KEDA_CRD.read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1"]
    schema = _strict(copy.deepcopy(version["schema"]["openAPIV3Schema"]))
    return jsonschema.Draft7Validator(schema)


def _strict(schema: Any) -> Any:
    """The API server prunes fields a structural schema does not list: forbid them instead,
    as kubernetes-validate's strict mode does for the built-in kinds."""
    if isinstance(schema, dict):
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
        for value in schema.values():
            _strict(value)
    elif isinstance(schema, list):
        for item in schema:
            _strict(item)
    return schema
