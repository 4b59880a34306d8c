"""The configuration file: model, loading, default file and JSON Schema."""

from hubforce.config.defaults import DEFAULT_CONFIG_YAML
from hubforce.config.load import load_config, parse_config
from hubforce.config.model import HubforceConfig
from hubforce.config.schema import config_schema

__all__ = ["DEFAULT_CONFIG_YAML", "HubforceConfig", "config_schema", "load_config", "parse_config"]
