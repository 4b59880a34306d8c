"""Edition profiles: whether the org has API access, and its daily API request allocation."""

from __future__ import annotations

from typing import Any

from hubforce.emulators.common.clock import EmulatorClock
from hubforce.emulators.common.limits import DailyAllocation

EDITIONS = ("developer", "professional", "enterprise", "unlimited")
_SETTINGS = frozenset({"edition", "api_enabled", "daily_api_requests", "used"})


def daily_allocation(edition: str, licenses: int) -> int:
    """The daily API request allocation of an edition (research notes, section 9)."""
    if edition == "developer":
        return 15_000
    per_license = 5_000 if edition == "unlimited" else 1_000
    return 100_000 + per_license * licenses


class OrgLimits:
    """API access and the daily counter; Professional has no API access by default."""

    def __init__(self, clock: EmulatorClock, edition: str, licenses: int) -> None:
        if edition not in EDITIONS:
            raise ValueError(f"unknown edition {edition!r}; use one of {', '.join(EDITIONS)}")
        self.licenses = licenses
        self.edition = edition
        self.api_enabled = edition != "professional"
        self.api_usage = DailyAllocation(clock, daily_allocation(edition, licenses))

    def describe(self) -> dict[str, Any]:
        """Edition, API access and today's usage (GET /__emulator__/limits)."""
        usage = self.api_usage
        return {
            "edition": self.edition,
            "api_enabled": self.api_enabled,
            "daily_api_requests": {
                "max": usage.limit,
                "used": usage.limit - usage.remaining(),
                "remaining": usage.remaining(),
            },
        }

    def change(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Apply `edition`, `api_enabled`, `daily_api_requests` (max) or `used`."""
        unknown = set(changes) - _SETTINGS
        if unknown:
            raise ValueError(f"unknown limit settings: {', '.join(sorted(unknown))}")
        if "edition" in changes:
            edition = str(changes["edition"])
            if edition not in EDITIONS:
                raise ValueError(f"unknown edition {edition!r}")
            self.edition = edition
            self.api_enabled = edition != "professional"
            self.api_usage.limit = daily_allocation(edition, self.licenses)
        if "api_enabled" in changes:
            self.api_enabled = bool(changes["api_enabled"])
        if "daily_api_requests" in changes:
            self.api_usage.limit = int(changes["daily_api_requests"])
        if "used" in changes:
            self.api_usage.reset()
            self.api_usage.used = int(changes["used"])
        return self.describe()
