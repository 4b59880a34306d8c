"""The JSON Schema of the configuration file (`hubforce schema`), for editors and CI checks."""

from __future__ import annotations

import json
from typing import Any

from hubforce.config.model import HubforceConfig

SCHEMA_ID = "https://hubforce.dev/schema/config-v1.json"


def config_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of `HubforceConfig`."""
    schema = HubforceConfig.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    return schema


def config_schema_json() -> str:
    """The JSON Schema as indented JSON text."""
    return json.dumps(config_schema(), indent=2, sort_keys=True)
