"""The "sync failing" signal: whole attempts failing (API errors past the retries, an
unreachable store, a bug) are announced once, with their recovery, and remembered."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from hubforce.alerts.digest import AlertKind, AlertState, Digest, Health, decide
from hubforce.alerts.signals import failing_from_outcome, failing_subject
from hubforce.alerts.slack import render_message
from hubforce.alerts.state import STATE_PAIR, alert_after_attempt, load_state
from hubforce.errors import (
    AuthFailed,
    Category,
    ConfigError,
    ConnectorError,
    RateLimited,
    Transient,
)
from hubforce.store import Store, open_store


class FakeNotifier:
    def __init__(self) -> None:
        self.sent: list[Digest] = []

    def send(self, digest: Digest) -> bool:
        self.sent.append(digest)
        return True


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    yield opened
    opened.close()


def test_what_each_error_says_is_failing() -> None:
    storm = Transient("hubspot", "HubSpot answered 503: busy", status=503)
    assert failing_from_outcome(storm) == {"hubspot": "HubSpot answered 503: busy"}
    forbidden = ConnectorError("salesforce", Category.PERMISSION, "refused")
    assert failing_subject(forbidden) == "salesforce"
    store_down = OperationalError("SELECT 1", {}, sqlite3.OperationalError("unable to open"))
    assert failing_from_outcome(store_down) == {
        "store": "the state store is unavailable (unable to open)"
    }
    assert failing_subject(KeyError("Id")) == "engine"
    # Connection states have signals of their own; a configuration error stops the loop.
    for error in (
        AuthFailed("hubspot"),
        RateLimited("hubspot", 10, "ten_seconds"),
        ConfigError("hubforce.yaml", "objects", "bad"),
        None,
    ):
        assert failing_from_outcome(error) == {}


def test_failing_is_announced_once_and_its_recovery_once() -> None:
    health = Health(failing={"hubspot": "HubSpot answered 503: busy"})
    digest, state = decide(AlertState(), health)
    assert digest is not None
    (alert,) = digest.alerts
    assert alert.kind is AlertKind.SYNC_FAILING and alert.subject == "HubSpot"
    assert alert.text == (
        "Sync failing: HubSpot answered 503: busy. hubforce keeps retrying on its own"
    )
    assert "status.hubspot.com" in alert.command
    assert digest.summary == "hubforce: 1 sync failing"
    assert state.failing == frozenset({"hubspot"})

    assert decide(state, health) == (None, state)  # still failing: nothing new
    digest, after = decide(state, Health())
    assert digest is not None
    assert [(a.kind, a.text) for a in digest.alerts] == [
        (AlertKind.SYNC_RECOVERED, "HubSpot: the sync works again")
    ]
    assert after == AlertState()
    assert decide(state, Health(), on_recovery=False)[0] is None


def test_a_bug_names_its_job_and_slack_renders_it() -> None:
    digest, _ = decide(AlertState(), Health(failing={"engine:reconcile": "unexpected KeyError"}))
    assert digest is not None
    (alert,) = digest.alerts
    assert alert.subject == "Sync (reconcile)" and "traceback" in alert.command
    text = json.dumps(render_message(digest))
    assert ":rotating_light: *Sync (reconcile)*: Sync failing: unexpected KeyError" in text


def test_the_state_survives_a_restart_and_an_older_state_still_loads(store: Store) -> None:
    notifier = FakeNotifier()
    asyncio.run(
        alert_after_attempt(
            store, notifier, failing={"store": "the state store is unavailable (x)"}
        )
    )
    assert load_state(store).failing == frozenset({"store"})
    assert asyncio.run(alert_after_attempt(store, notifier, failing={"store": "again"})) is None
    assert len(notifier.sent) == 1
    digest = asyncio.run(alert_after_attempt(store, notifier))
    assert digest is not None and digest.alerts[0].kind is AlertKind.SYNC_RECOVERED
    assert digest.alerts[0].text == "State store: the sync works again"
    # A state saved before the signal existed has no "failing" key.
    legacy = {"groups": {}, "auth_failed": ["hubspot"], "paused": []}
    store.cursors.set(STATE_PAIR, "slack", json.dumps(legacy))
    assert load_state(store) == AlertState(auth_failed=frozenset({"hubspot"}))
