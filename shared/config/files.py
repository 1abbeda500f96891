"""Loading declarative YAML files into pydantic models with errors that name file and field."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)


class ConfigFileError(ValueError):
    """A declarative file is missing, unreadable or invalid; the message names file and field."""


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "(top level)"
        lines.append(f"  {field}: {item['msg']}")
    return "\n".join(lines)


def load_yaml_model(path: Path, model: type[Model]) -> Model:
    return validate_model(path, read_yaml(path), model)


def read_yaml(path: Path) -> object:
    """The data of a YAML file; `ConfigFileError` when it cannot be read or parsed."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigFileError(f"{path}: cannot read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigFileError(f"{path}: not valid YAML: {exc}") from exc


def validate_model(path: Path, data: object, model: type[Model]) -> Model:
    """`data` read from `path` as `model`; `ConfigFileError` naming the file and fields."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigFileError(f"{path}: invalid {model.__name__}:\n{_describe(exc)}") from exc


def load_yaml_models(directory: Path, model: type[Model]) -> dict[Path, Model]:
    if not directory.is_dir():
        raise ConfigFileError(f"{directory}: directory not found")
    return {path: load_yaml_model(path, model) for path in sorted(directory.rglob("*.yaml"))}
