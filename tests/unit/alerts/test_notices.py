"""Notices: one clear line per failing job, never the same line every interval, a recovery line."""

from __future__ import annotations

import sqlite3

from sqlalchemy.exc import OperationalError

from hubforce.alerts.notices import (
    NoticeKind,
    Notices,
    describe,
    fingerprint,
    known_error,
    store_unavailable,
)
from hubforce.errors import AuthFailed, ConfigError, RateLimited, StoreError, Transient

NOON = 1_764_072_000_000  # 2025-11-25 12:00:00 UTC


def _store_down() -> OperationalError:
    return OperationalError(
        "UPDATE links SET snapshot = ? WHERE hubspot_id = ?",
        ("{'email': 'private@example.com'}", "101"),
        sqlite3.OperationalError("database is locked"),
    )


def test_a_refused_authentication_names_the_side_the_apis_words_and_the_command() -> None:
    error = AuthFailed(
        "hubspot", status=400, api_code="BAD_REFRESH_TOKEN", api_message="refresh token revoked"
    )
    line = describe(error)
    assert line == (
        "Authentication failed: reauthorize HubSpot (HubSpot said: BAD_REFRESH_TOKEN refresh "
        "token revoked); fix: run `hubforce connect hubspot`, then sync again"
    )
    assert "\n" not in line
    assert describe(error, fix=False).endswith("refresh token revoked)")


def test_api_errors_say_which_side_once_and_keep_secrets_out() -> None:
    storm = Transient(
        "salesforce",
        "Salesforce answered 503 SERVER_UNAVAILABLE: down",
        status=503,
        api_code="SERVER_UNAVAILABLE",
        api_message="down",
    )
    line = describe(storm)
    assert line.startswith("Salesforce answered 503 SERVER_UNAVAILABLE: down; fix: ")
    assert "said" not in line  # the code is in the message already
    leaky = Transient("hubspot", "ReadTimeout calling /crm/v3?hapikey=abc123: Bearer tok-999")
    assert "abc123" not in describe(leaky) and "tok-999" not in describe(leaky)


def test_rate_limits_and_configuration_errors_are_one_line_with_their_fix() -> None:
    assert describe(RateLimited("salesforce", 5400, "daily")) == (
        "Rate limited by Salesforce (daily): retry in 5400s; fix: Wait for the limit window to "
        "reset; hubforce retries automatically"
    )
    config = ConfigError("hubforce.yaml", "connections.hubspot.token", "HUBSPOT_TOKEN is not set")
    config.hint = "export HUBSPOT_TOKEN"
    assert describe(config) == (
        "hubforce.yaml: connections.hubspot.token: HUBSPOT_TOKEN is not set; "
        "fix: export HUBSPOT_TOKEN"
    )


def test_an_unreachable_store_is_known_and_never_shows_the_statement_or_its_values() -> None:
    error = _store_down()
    assert store_unavailable(error) and known_error(error)
    line = describe(error)
    assert line.startswith("the state store is unavailable (database is locked); fix: ")
    assert "connections.store.url" in line
    assert "private@example.com" not in line and "UPDATE" not in line
    assert known_error(StoreError("run 3 does not exist"))


def test_anything_else_is_a_bug() -> None:
    error = KeyError("hs_object_id")
    assert not known_error(error)
    assert describe(error) == (
        "unexpected KeyError: 'hs_object_id' (a bug: its traceback is in the log; please report it)"
    )


def test_the_same_error_with_another_wait_is_the_same_error() -> None:
    assert fingerprint(RateLimited("hubspot", 10, "ten_seconds")) == fingerprint(
        RateLimited("hubspot", 3, "ten_seconds")
    )
    assert fingerprint(Transient("hubspot", "a", status=503)) != fingerprint(
        Transient("hubspot", "a", status=500)
    )
    assert fingerprint(_store_down()) == fingerprint(_store_down())


def test_said_once_reminded_every_interval_and_recovered_once() -> None:
    clock = [0.0]
    notices = Notices(remind_every=600, monotonic=lambda: clock[0], now_ms=lambda: NOON)
    storm = Transient("hubspot", "HubSpot answered 503: busy", status=503)
    assert notices.succeeded("reconcile") is None  # healthy: nothing to say

    first = notices.failed("reconcile", storm, then="; next attempt in 30s")
    assert first is not None and first.kind is NoticeKind.FAILED and not first.traceback
    assert first.text.startswith("reconcile failed: HubSpot answered 503: busy; fix: ")
    assert first.text.endswith("; next attempt in 30s")
    for _ in range(19):  # almost ten minutes of 30 s intervals: silence
        clock[0] += 30
        assert notices.failed("reconcile", storm) is None
    clock[0] += 30
    reminder = notices.failed("reconcile", storm)
    assert reminder is not None and reminder.kind is NoticeKind.REMINDER
    assert reminder.text.startswith("reconcile still failing (21 attempts since 12:00 UTC): ")
    clock[0] += 30
    assert notices.failed("reconcile", storm) is None
    assert notices.failing("reconcile") and not notices.failing("salesforce-poll")

    recovered = notices.succeeded("reconcile")
    assert recovered is not None and recovered.kind is NoticeKind.RECOVERED
    assert recovered.text == "reconcile works again (after 22 failed attempts since 12:00 UTC)"
    assert notices.succeeded("reconcile") is None


def test_another_error_is_said_at_once_and_a_bug_asks_for_its_traceback() -> None:
    notices = Notices(now_ms=lambda: NOON)
    auth = AuthFailed("salesforce", api_code="INVALID_LOGIN")
    assert notices.failed("salesforce-poll", auth) is not None
    assert notices.failed("salesforce-poll", auth) is None
    bug = notices.failed("salesforce-poll", KeyError("Id"))
    assert bug is not None and bug.kind is NoticeKind.FAILED and bug.traceback
    assert bug.text.startswith("salesforce-poll failed: unexpected KeyError: 'Id'")
    assert notices.failed("salesforce-poll", KeyError("Id")) is None
    back = notices.succeeded("salesforce-poll")
    assert back is not None and "after 4 failed attempts" in back.text
