"""`conduit validate`: the shipped configuration loads; a broken file is named with its field."""

import shutil
from pathlib import Path

import pytest

from conduit.validate import validate_config
from shared.config import ConduitSettings, ConfigFileError

SHIPPED = ConduitSettings().config_dir


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    copy = tmp_path / "config"
    shutil.copytree(SHIPPED, copy)
    return copy


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path} no longer contains {old!r}: update the test"
    path.write_text(text.replace(old, new))


def test_the_shipped_configuration_is_valid() -> None:
    assert validate_config(SHIPPED).startswith("ok:")


def test_a_retrieval_step_with_an_alpha_out_of_range_names_file_and_field(
    config_dir: Path,
) -> None:
    workflow = config_dir / "workflows" / "product_question.yaml"
    _edit(workflow, "params: {top_k: 3,", "params: {top_k: 3, alpha: 1.5,")

    with pytest.raises(
        ConfigFileError, match=r"product_question\.yaml.*steps\.retrieve\.params\.alpha"
    ):
        validate_config(config_dir)


def test_a_retrieval_step_with_an_unknown_search_mode_is_refused(config_dir: Path) -> None:
    workflow = config_dir / "workflows" / "product_question.yaml"
    _edit(workflow, "params: {top_k: 3,", "params: {top_k: 3, mode: semantic,")

    with pytest.raises(ConfigFileError, match=r"params\.mode"):
        validate_config(config_dir)


def test_an_output_check_that_regenerates_without_a_route_back_names_file_and_field(
    config_dir: Path,
) -> None:
    workflow = config_dir / "workflows" / "order_status.yaml"
    _edit(workflow, "      - when: {verdict: regenerate}\n        to: draft\n", "")

    with pytest.raises(
        ConfigFileError, match=r"(?s)order_status\.yaml.*steps\.check_answer\.params\.regenerate"
    ):
        validate_config(config_dir)


def test_an_unknown_output_check_names_file_and_field(config_dir: Path) -> None:
    workflow = config_dir / "workflows" / "order_status.yaml"
    _edit(workflow, "checks: [not_empty, no_pii,", "checks: [not_empty, no_lies,")

    with pytest.raises(
        ConfigFileError, match=r"order_status\.yaml: steps\.check_answer\.params\.checks.*no_lies"
    ):
        validate_config(config_dir)


def test_a_malformed_template_answer_names_file_and_field(config_dir: Path) -> None:
    template = config_dir / "prompts" / "order_status_answer" / "v2.yaml"
    _edit(template, 'text: "Your order {order_id} is {status}."', 'text: "Your order {order_id"')

    with pytest.raises(ConfigFileError, match=r"order_status_answer/v2\.yaml: answer\.fallbacks"):
        validate_config(config_dir)
