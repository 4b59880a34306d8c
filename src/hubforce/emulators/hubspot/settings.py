"""Emulator settings: credentials, rate-limit tier, token lifetime, search index lag."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, field_validator

from hubforce.emulators.hubspot.form_models import load_forms


@dataclass(frozen=True)
class Tier:
    """One HubSpot subscription tier's API limits (reference section 10)."""

    burst: int  # requests per ten-second rolling window, per app
    daily: int  # requests per day, per account


TIERS: dict[str, Tier] = {
    "free": Tier(burst=100, daily=250_000),
    "starter": Tier(burst=100, daily=250_000),
    "professional": Tier(burst=190, daily=625_000),
    "enterprise": Tier(burst=190, daily=1_000_000),
}


class HubSpotEmulatorSettings(BaseModel):
    """Everything `create_app` needs; loadable from the emulator YAML config."""

    portal_id: int = 62515
    static_token: str = "emulator-token"
    tier: str = Field(default="professional", pattern="^(free|starter|professional|enterprise)$")
    token_lifetime: int = Field(default=1800, ge=1, description="OAuth expires_in, seconds")
    client_id: str = "hubforce-emulator-client"
    client_secret: str = "hubforce-emulator-secret"
    app_id: int = 1160452
    search_per_second: int = Field(default=5, ge=1)
    burst_window_seconds: float = Field(
        default=10.0, gt=0, description="length of the burst window (HubSpot: ten seconds)"
    )
    index_lag_ms: int = Field(
        default=0, ge=0, description="delay before new records are searchable"
    )
    seed: int | None = None
    forms: list[dict[str, Any]] = Field(default_factory=list)

    @field_validator("forms")
    @classmethod
    def _forms_are_valid(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # Fail at start-up on a bad `forms:` section, not on the first submission.
        load_forms(value)
        return value

    @classmethod
    def from_file(cls, path: Path, **overrides: Any) -> HubSpotEmulatorSettings:
        """Settings from a YAML file (a mapping; unknown keys are rejected), then overrides."""
        raw = yaml.safe_load(path.read_text()) or {}
        if not isinstance(raw, dict):
            raise ValueError(f"{path}: the emulator config must be a mapping")
        raw.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(raw)

    model_config = {"extra": "forbid"}
