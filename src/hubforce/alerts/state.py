"""The alerting shell: read health from the store, decide, send, remember what was announced.

The last announced `AlertState` is kept as JSON in the store's cursor table under the reserved
pair `_alerts` (side = the channel, "slack"), so a restart neither repeats nor forgets an
alert and no schema change is needed. The state only moves when the digest was delivered (or
there was nothing to send): an alert that Slack did not take is tried again next cycle.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any, Protocol

from hubforce.alerts.digest import AlertState, Digest, GroupHealth, Health, decide
from hubforce.errors import redact
from hubforce.store import Store
from hubforce.store.failures import FailureGroup

STATE_PAIR = "_alerts"
_MAX_EXAMPLE = 300


class Notifier(Protocol):
    """Where digests go (`SlackNotifier`, or a fake in tests)."""

    def send(self, digest: Digest) -> bool:
        """Deliver; True if accepted."""
        ...


def load_state(store: Store, channel: str = "slack") -> AlertState:
    """The state last saved for `channel` (empty before the first alert)."""
    raw = store.cursors.get(STATE_PAIR, channel)
    if raw is None:
        return AlertState()
    data: dict[str, Any] = json.loads(raw)
    return AlertState(
        groups={key: (pair, category) for key, (pair, category) in data["groups"].items()},
        auth_failed=frozenset(data["auth_failed"]),
        paused=frozenset(data["paused"]),
        failing=frozenset(data.get("failing", ())),  # absent in states saved before it existed
    )


def save_state(store: Store, state: AlertState, channel: str = "slack") -> None:
    """Remember `state` for `channel`."""
    data = {
        "groups": {key: list(value) for key, value in sorted(state.groups.items())},
        "auth_failed": sorted(state.auth_failed),
        "paused": sorted(state.paused),
        "failing": sorted(state.failing),
    }
    store.cursors.set(STATE_PAIR, channel, json.dumps(data, sort_keys=True))


def _example(group: FailureGroup) -> str:
    f = group.example
    ids = ", ".join(
        part
        for part in (
            f"HubSpot {f.hubspot_id}" if f.hubspot_id else "",
            f"{f.salesforce_type or 'Salesforce'} {f.salesforce_id}" if f.salesforce_id else "",
        )
        if part
    )
    text = f"{ids}: {f.message}" if ids else f.message
    text = redact(text)
    return text if len(text) <= _MAX_EXAMPLE else text[: _MAX_EXAMPLE - 1] + "…"


def group_health(groups: list[FailureGroup]) -> dict[str, GroupHealth]:
    """The store's open failure groups as digest input, by group key."""
    return {
        g.group_key: GroupHealth(
            key=g.group_key,
            pair=g.pair,
            category=g.category,
            api_code=g.api_code,
            count=g.count,
            example=_example(g),
            remediation=g.example.remediation,
        )
        for g in groups
    }


def current_health(
    store: Store,
    *,
    auth_failed: Mapping[str, str] | None = None,
    paused: Mapping[str, str] | None = None,
    failing: Mapping[str, str] | None = None,
) -> Health:
    """Health now: failure groups from the store, plus what the cycle saw per side
    (`auth_failed`: side -> reason; `paused`: side -> "HH:MM" of the next sync; `failing`:
    hubspot | salesforce | store | engine -> why whole attempts fail)."""
    return Health(
        groups=group_health(store.failures.groups()),
        auth_failed=dict(auth_failed or {}),
        paused=dict(paused or {}),
        failing=dict(failing or {}),
    )


def _decide(
    store: Store,
    channel: str,
    auth_failed: Mapping[str, str] | None,
    paused: Mapping[str, str] | None,
    on_recovery: bool,
    failing: Mapping[str, str] | None = None,
) -> tuple[AlertState, Digest | None, AlertState]:
    previous = load_state(store, channel)
    health = current_health(store, auth_failed=auth_failed, paused=paused, failing=failing)
    digest, state = decide(previous, health, on_recovery=on_recovery)
    return previous, digest, state


async def alert_after_attempt(
    store: Store,
    notifier: Notifier | None,
    *,
    auth_failed: Mapping[str, str] | None = None,
    paused: Mapping[str, str] | None = None,
    failing: Mapping[str, str] | None = None,
    on_recovery: bool = True,
    channel: str = "slack",
) -> Digest | None:
    """Decide and send the digest after an attempt (a cycle, a poll, a targeted sync); returns
    it (None if nothing changed or no notifier is configured). Never raises for a delivery
    failure. The webhook call (blocking, up to its timeout) runs on a worker thread, so the
    event loop keeps serving meanwhile."""
    if notifier is None:
        return None
    previous, digest, state = _decide(store, channel, auth_failed, paused, on_recovery, failing)
    if digest is not None and not await asyncio.to_thread(notifier.send, digest):
        return digest
    if state != previous:
        save_state(store, state, channel)
    return digest


__all__ = [
    "STATE_PAIR",
    "Notifier",
    "alert_after_attempt",
    "current_health",
    "group_health",
    "load_state",
    "save_state",
]
