"""The tool catalog: loading, validation errors, argument models and JSON schemas."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from shared.config import ConfigFileError, repo_root
from shared.runtime import UnknownTool
from shared.tools import ToolCatalog, load_tool_catalog

CONFIG = repo_root() / "config"


@pytest.fixture(scope="module")
def catalog() -> ToolCatalog:
    return load_tool_catalog(CONFIG)


def _catalog_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((CONFIG / "tools.yaml").read_text(encoding="utf-8"))
    return data


def _write_catalog(directory: Path, data: dict[str, Any]) -> Path:
    """`data` as the directory's tools.yaml, beside the OpenAPI specs its http tools use."""
    shutil.copytree(CONFIG / "openapi", directory / "openapi", dirs_exist_ok=True)
    (directory / "tools.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    return directory


def test_repository_catalog_declares_the_refund_order_customer_and_itops_tools(
    catalog: ToolCatalog,
) -> None:
    expected = {
        "lookup_invoice",
        "check_refund_policy",
        "issue_refund",
        "lookup_order",
        "find_orders_by_email",
        "search_logs",
        "list_deploys",
        "service_health",
        "find_responder",
        "open_incident_ticket",
        "itops_search_logs",
        "itops_recent_deploys",
        "itops_service_health",
        "itops_create_ticket",
    }
    assert set(catalog.tools) == expected, f"catalog tools differ: {sorted(catalog.tools)}"


def test_issue_refund_is_a_side_effect_gated_by_an_eligible_policy_check(
    catalog: ToolCatalog,
) -> None:
    spec = catalog.spec("issue_refund")
    assert spec.side_effect, "issue_refund must be declared a side effect"
    [requirement] = spec.requires
    assert (requirement.tool, requirement.same, requirement.result) == (
        "check_refund_policy",
        ["invoice_id"],
        {"eligible": True},
    ), f"issue_refund is gated by the wrong requirement: {requirement}"


def test_unknown_tool_name_raises_unknown_tool(catalog: ToolCatalog) -> None:
    with pytest.raises(UnknownTool, match="delete_invoice"):
        catalog.spec("delete_invoice")


def test_arguments_model_accepts_valid_arguments(catalog: ToolCatalog) -> None:
    model = catalog.spec("issue_refund").arguments_model()
    arguments = model.model_validate_json('{"invoice_id": "INV-1001", "amount": 49.99}')
    assert arguments.model_dump() == {"invoice_id": "INV-1001", "amount": 49.99}, (
        "valid refund arguments were altered by validation"
    )


def test_arguments_model_is_built_once_per_tool(catalog: ToolCatalog) -> None:
    spec = catalog.spec("lookup_order")
    assert spec.arguments_model() is spec.arguments_model(), "the arguments model is rebuilt"


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ('{"invoice_id": "INV-1001", "amount": "49.99"}', "amount"),
        ('{"invoice_id": "INV-1001", "amount": 0}', "amount"),
        ('{"invoice_id": "1001", "amount": 10}', "invoice_id"),
        ('{"invoice_id": "INV-1001"}', "amount"),
        ('{"invoice_id": "INV-1001", "amount": 10, "note": "x"}', "note"),
    ],
)
def test_arguments_model_rejects_bad_arguments_naming_the_field(
    catalog: ToolCatalog, arguments: str, field: str
) -> None:
    model = catalog.spec("issue_refund").arguments_model()
    with pytest.raises(ValidationError) as raised:
        model.model_validate_json(arguments)
    fields = [error["loc"][0] for error in raised.value.errors()]
    assert field in fields, f"{arguments} should fail on {field}, failed on {fields}"


def test_json_schema_requires_every_argument_and_forbids_others(catalog: ToolCatalog) -> None:
    schema = catalog.spec("issue_refund").json_schema({})
    assert schema["type"] == "object", "arguments schema must describe an object"
    assert schema["additionalProperties"] is False, "extra arguments must be forbidden"
    assert schema["required"] == ["invoice_id", "amount"], f"wrong required: {schema['required']}"
    assert schema["properties"]["amount"]["exclusiveMinimum"] == 0, "amount bound lost"
    assert "enum" not in schema["properties"]["invoice_id"], "enum without allowed values"


def test_json_schema_restricts_allowed_values_with_enums(catalog: ToolCatalog) -> None:
    schema = catalog.spec("issue_refund").json_schema(
        {"invoice_id": ["INV-1001"], "amount": [49.99]}
    )
    properties = schema["properties"]
    assert properties["invoice_id"]["enum"] == ["INV-1001"], "invoice ids not restricted"
    assert properties["amount"]["enum"] == [49.99], "amount not restricted"


def test_malformed_tools_yaml_raises_config_file_error_naming_file_and_field(
    tmp_path: Path,
) -> None:
    data = _catalog_data()
    data["tools"]["lookup_invoice"]["arguments"]["invoice_id"]["type"] = "text"
    _write_catalog(tmp_path, data)
    with pytest.raises(ConfigFileError) as raised:
        load_tool_catalog(tmp_path)
    message = str(raised.value)
    assert str(tmp_path / "tools.yaml") in message, f"file not named: {message}"
    assert "tools.lookup_invoice.arguments.invoice_id.type" in message, (
        f"field not named: {message}"
    )


def test_unknown_field_in_a_tool_is_rejected(tmp_path: Path) -> None:
    data = _catalog_data()
    data["tools"]["lookup_order"]["retries"] = 3
    _write_catalog(tmp_path, data)
    with pytest.raises(ConfigFileError, match=r"tools\.lookup_order\.retries"):
        load_tool_catalog(tmp_path)


def test_side_effect_without_a_requirement_is_rejected(tmp_path: Path) -> None:
    data = _catalog_data()
    data["tools"]["issue_refund"]["requires"] = []
    _write_catalog(tmp_path, data)
    with pytest.raises(ConfigFileError, match="side effect must declare at least one"):
        load_tool_catalog(tmp_path)


def test_requirement_on_an_unknown_tool_is_rejected(tmp_path: Path) -> None:
    data = _catalog_data()
    data["tools"]["issue_refund"]["requires"][0]["tool"] = "check_fraud"
    _write_catalog(tmp_path, data)
    with pytest.raises(ConfigFileError, match=r"tools\.issue_refund\.requires\.0\.tool"):
        load_tool_catalog(tmp_path)


def test_values_from_needs_exactly_one_source(tmp_path: Path) -> None:
    data = _catalog_data()
    data["tools"]["lookup_order"]["arguments"]["order_id"]["values_from"] = {}
    _write_catalog(tmp_path, data)
    with pytest.raises(ConfigFileError, match=r"order_id\.values_from"):
        load_tool_catalog(tmp_path)


def test_pattern_on_a_number_argument_is_rejected(tmp_path: Path) -> None:
    data = _catalog_data()
    data["tools"]["issue_refund"]["arguments"]["amount"]["pattern"] = "^[0-9]+$"
    _write_catalog(tmp_path, data)
    with pytest.raises(ConfigFileError, match="applies to string arguments only"):
        load_tool_catalog(tmp_path)
