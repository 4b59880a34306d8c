"""The alerting shell over a real store: health from failure groups, state kept across runs."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from hubforce.alerts.digest import AlertKind, Digest
from hubforce.alerts.state import alert_after_attempt, load_state
from hubforce.store import NewFailure, Store, open_store


class FakeNotifier:
    def __init__(self, accept: bool = True) -> None:
        self.sent: list[Digest] = []
        self.accept = accept

    def send(self, digest: Digest) -> bool:
        self.sent.append(digest)
        return self.accept


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    yield opened
    opened.close()


def _reject(store: Store, n: int, *, start: int = 0, email_prefix: str = "user") -> None:
    store.failures.record_many(
        [
            NewFailure(
                pair="contacts",
                side="hubspot",
                operation="create",
                category="validation_rule",
                api_code="INVALID_EMAIL",
                message=f"Email: invalid email address: {email_prefix}{i}@bad",
                remediation="Fix the e-mail in Salesforce.",
                salesforce_type="Contact",
                salesforce_id=f"003000000000{i:03d}AAA",
            )
            for i in range(start, start + n)
        ],
        now=1_000,
    )


def test_five_hundred_rejections_of_one_cause_send_one_alert_once(store: Store) -> None:
    _reject(store, 500)
    notifier = FakeNotifier()
    digest = asyncio.run(alert_after_attempt(store, notifier))
    assert digest is not None and len(notifier.sent) == 1
    (alert,) = digest.alerts
    assert alert.count == 500 and alert.subject == "contacts"
    assert alert.example.startswith("Contact 003000000000")
    assert "invalid email address" in alert.example
    # More of the same next cycle: nothing new to say.
    _reject(store, 20, start=500)
    assert asyncio.run(alert_after_attempt(store, notifier)) is None
    assert len(notifier.sent) == 1


def test_resolving_the_group_sends_the_recovery(store: Store) -> None:
    _reject(store, 3)
    notifier = FakeNotifier()
    asyncio.run(alert_after_attempt(store, notifier))
    ids = [f"003000000000{i:03d}AAA" for i in range(3)]
    assert store.failures.resolve("contacts", salesforce_ids=ids) == 3
    digest = asyncio.run(alert_after_attempt(store, notifier))
    assert digest is not None
    assert [a.kind for a in digest.alerts] == [AlertKind.FAILURES_RECOVERED]
    assert load_state(store).groups == {}


def test_state_survives_reopening_the_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'again.db'}"
    first = open_store(url)
    _reject(first, 2)
    asyncio.run(
        alert_after_attempt(first, FakeNotifier(), auth_failed={"hubspot": "BAD_REFRESH_TOKEN"})
    )
    first.close()
    second = open_store(url)
    try:
        state = load_state(second)
        assert state.auth_failed == frozenset({"hubspot"}) and len(state.groups) == 1
        notifier = FakeNotifier()
        assert (
            asyncio.run(alert_after_attempt(second, notifier, auth_failed={"hubspot": "x"})) is None
        )
        assert notifier.sent == []
    finally:
        second.close()


def test_an_alert_slack_refused_is_tried_again_next_cycle(store: Store) -> None:
    _reject(store, 1)
    refusing = FakeNotifier(accept=False)
    asyncio.run(alert_after_attempt(store, refusing, paused={"salesforce": "23:00"}))
    assert load_state(store).paused == frozenset()
    accepting = FakeNotifier()
    digest = asyncio.run(alert_after_attempt(store, accepting, paused={"salesforce": "23:00"}))
    assert digest is not None
    assert sorted(a.kind for a in digest.alerts) == [
        AlertKind.BUDGET_PAUSED,
        AlertKind.NEW_FAILURES,
    ]
    assert load_state(store).paused == frozenset({"salesforce"})


def test_no_notifier_configured_means_no_work(store: Store) -> None:
    _reject(store, 1)
    assert asyncio.run(alert_after_attempt(store, None)) is None
    assert load_state(store).groups == {}
