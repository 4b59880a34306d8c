"""digest.decide: one line per change, never one per record; recoveries; nothing new -> None."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hubforce.alerts.digest import AlertKind, AlertState, GroupHealth, Health, decide


def _group(key: str = "g1", count: int = 1, pair: str = "contacts") -> GroupHealth:
    return GroupHealth(
        key=key,
        pair=pair,
        category="required_field",
        api_code="REQUIRED_FIELD_MISSING",
        count=count,
        example="HubSpot 101: Required fields are missing: [LastName]",
        remediation="Map a field to LastName or set a default.",
    )


def test_new_group_makes_one_alert_naming_pair_count_example_and_fix() -> None:
    digest, state = decide(AlertState(), Health(groups={"g1": _group(count=3)}))
    assert digest is not None and len(digest.alerts) == 1
    alert = digest.alerts[0]
    assert alert.kind is AlertKind.NEW_FAILURES
    assert alert.subject == "contacts" and alert.count == 3
    assert "3 contacts records rejected: required_field (REQUIRED_FIELD_MISSING)" in alert.text
    assert alert.example == "HubSpot 101: Required fields are missing: [LastName]"
    assert "hubforce retry --category required_field" in alert.command
    assert state.groups == {"g1": ("contacts", "required_field")}
    assert digest.summary == "hubforce: 1 new failure group"


def test_five_hundred_failures_of_one_group_make_one_alert() -> None:
    digest, _ = decide(AlertState(), Health(groups={"g1": _group(count=500)}))
    assert digest is not None
    assert [a.count for a in digest.alerts] == [500]


def test_a_group_that_grows_does_not_alert_again() -> None:
    _, state = decide(AlertState(), Health(groups={"g1": _group(count=1)}))
    digest, again = decide(state, Health(groups={"g1": _group(count=900)}))
    assert digest is None
    assert again == state


def test_recovery_of_a_group_makes_one_alert() -> None:
    _, state = decide(AlertState(), Health(groups={"g1": _group()}))
    digest, after = decide(state, Health())
    assert digest is not None
    assert [(a.kind, a.subject) for a in digest.alerts] == [
        (AlertKind.FAILURES_RECOVERED, "contacts")
    ]
    assert after == AlertState()


def test_recoveries_are_silent_when_switched_off() -> None:
    _, state = decide(AlertState(), Health(groups={"g1": _group()}, auth_failed={"hubspot": "x"}))
    digest, after = decide(state, Health(), on_recovery=False)
    assert digest is None and after == AlertState()


def test_auth_failure_names_the_side_and_the_connect_command_then_recovers() -> None:
    health = Health(auth_failed={"salesforce": "invalid_grant: expired access/refresh token"})
    digest, state = decide(AlertState(), health)
    assert digest is not None
    (alert,) = digest.alerts
    assert alert.kind is AlertKind.AUTH_FAILED
    assert alert.text.startswith("Authentication failed: reauthorize Salesforce.")
    assert alert.command == "hubforce connect salesforce"
    assert decide(state, health)[0] is None
    back, _ = decide(state, Health())
    assert back is not None and [a.kind for a in back.alerts] == [AlertKind.AUTH_RECOVERED]


def test_budget_pause_and_resume() -> None:
    digest, state = decide(AlertState(), Health(paused={"hubspot": "14:30"}))
    assert digest is not None
    assert digest.alerts[0].text == (
        "Rate limited: the HubSpot API budget is spent, next sync at 14:30"
    )
    assert "budgets.hubspot.daily_share" in digest.alerts[0].command
    resumed, _ = decide(state, Health())
    assert resumed is not None and resumed.alerts[0].kind is AlertKind.BUDGET_RESUMED


def test_several_changes_share_one_digest() -> None:
    health = Health(
        groups={"g1": _group("g1", 2), "g2": _group("g2", 7, pair="deals")},
        auth_failed={"hubspot": "BAD_REFRESH_TOKEN"},
    )
    digest, _ = decide(AlertState(), health)
    assert digest is not None
    assert [(a.kind, a.subject) for a in digest.alerts] == [
        (AlertKind.AUTH_FAILED, "HubSpot"),
        (AlertKind.NEW_FAILURES, "deals"),
        (AlertKind.NEW_FAILURES, "contacts"),
    ]
    assert digest.summary == "hubforce: 1 authentication failure, 2 new failure groups"


def test_nothing_new_sends_nothing() -> None:
    assert decide(AlertState(), Health()) == (None, AlertState())


_keys = st.sets(st.sampled_from([f"g{i}" for i in range(8)]))


@settings(max_examples=200, deadline=None)
@given(before=_keys, after=_keys, counts=st.lists(st.integers(1, 10_000), min_size=8, max_size=8))
def test_alerts_are_exactly_the_new_and_recovered_groups(
    before: set[str], after: set[str], counts: list[int]
) -> None:
    def health(keys: set[str]) -> Health:
        return Health(groups={k: _group(k, counts[int(k[1:])]) for k in keys})

    _, state = decide(AlertState(), health(before))
    digest, final = decide(state, health(after))
    new = [a for a in digest.alerts if a.kind is AlertKind.NEW_FAILURES] if digest else []
    gone = [a for a in digest.alerts if a.kind is AlertKind.FAILURES_RECOVERED] if digest else []
    assert sorted(a.count for a in new) == sorted(counts[int(k[1:])] for k in after - before)
    assert len(gone) == len(before - after)
    assert (digest is None) == (before == after)
    # Deciding again on the same health never sends anything (idempotent).
    assert decide(final, health(after))[0] is None
