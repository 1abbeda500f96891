"""Settings and declarative-file loading shared by every service."""

from shared.config.files import ConfigFileError, load_yaml_model, load_yaml_models
from shared.config.settings import ConduitSettings, repo_root

__all__ = ["ConduitSettings", "ConfigFileError", "load_yaml_model", "load_yaml_models", "repo_root"]
