"""A configuration pointing at the local emulators (demo, tests, benchmarks).

It is the default configuration (`hubforce init`'s file) with the connections swapped for the
emulators' base URLs and their published development credentials, passed as environment
values so the file itself still holds no secret. Nothing here imports the emulators.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml

from hubforce.config import DEFAULT_CONFIG_YAML, HubforceConfig
from hubforce.config.load import parse_config

#: The emulators' default development credentials (printed by `hubforce emulate ...`).
EMULATOR_ENV = {
    "HUBSPOT_TOKEN": "emulator-token",
    "SALESFORCE_CLIENT_SECRET": "hubforce-emulator-consumer-secret",
    "SALESFORCE_PASSWORD": "emulator-password",
    "SALESFORCE_SECURITY_TOKEN": "EMULATORSECURITYTOKEN",
}


def local_config(
    hubspot_url: str,
    salesforce_url: str,
    store_url: str,
    *,
    edit: Callable[[dict[str, Any]], None] | None = None,
    env: dict[str, str] | None = None,
) -> HubforceConfig:
    """The default configuration against emulators at these URLs; `edit` may change the
    parsed YAML (e.g. a rule or a delete policy) before validation."""
    data = yaml.safe_load(DEFAULT_CONFIG_YAML)
    data["connections"] = {
        "hubspot": {"base_url": hubspot_url, "token": "${HUBSPOT_TOKEN}"},
        "salesforce": {
            "login_url": salesforce_url,
            "instance_url": salesforce_url,
            "api_version": "62.0",
            "password": {
                "username": "admin@hubforce-emulator.example",
                "password": "${SALESFORCE_PASSWORD}",
                "security_token": "${SALESFORCE_SECURITY_TOKEN}",
                "client_id": "hubforce-emulator-consumer-key",
                "client_secret": "${SALESFORCE_CLIENT_SECRET}",
            },
        },
        "store": {"url": store_url},
    }
    data["objects"]["contacts"]["external_id"] = "HubSpot_Id__c"
    data["objects"]["companies"]["external_id"] = "HubSpot_Id__c"
    data["objects"]["deals"]["external_id"] = "HubSpot_Id__c"
    if edit is not None:
        edit(data)
    return parse_config(
        yaml.safe_dump(data, sort_keys=False), file="<emulators>", env=env or EMULATOR_ENV
    )
