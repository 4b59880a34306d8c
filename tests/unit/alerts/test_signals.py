"""A cycle's fatal error -> auth failure / budget pause signals for the digest."""

from __future__ import annotations

from hubforce.alerts.signals import Signals, signals_from_outcome
from hubforce.errors import AuthFailed, RateLimited, Transient

NOON = 1_764_072_000_000  # 2025-11-25 12:00:00 UTC


def test_auth_failure_names_the_side_and_the_apis_words() -> None:
    error = AuthFailed("hubspot", status=400, api_code="BAD_REFRESH_TOKEN", api_message="revoked")
    assert signals_from_outcome(error, now_ms=NOON) == Signals(
        auth_failed={"hubspot": "BAD_REFRESH_TOKEN revoked"}
    )


def test_a_spent_daily_budget_pauses_until_the_reset_time() -> None:
    error = RateLimited("salesforce", retry_after=5_400, window="daily")
    assert signals_from_outcome(error, now_ms=NOON) == Signals(paused={"salesforce": "13:30"})


def test_short_windows_transients_and_success_signal_nothing() -> None:
    assert signals_from_outcome(RateLimited("hubspot", 2, "ten_seconds"), now_ms=NOON) == Signals()
    assert signals_from_outcome(Transient("hubspot", "503"), now_ms=NOON) == Signals()
    assert signals_from_outcome(None, now_ms=NOON) == Signals()
