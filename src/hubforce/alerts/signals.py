"""What a cycle's outcome says about connection health, as input for `alert_after_attempt` (pure).

A cycle either finishes (everything healthy apart from record failures) or stops on a fatal
error: `AuthFailed` means that side's connection needs reauthorizing, `RateLimited` on the
daily or budget window means the sync pauses until the window resets. Short windows (ten
seconds, one second) are paced by the governor and are not worth a message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo

from hubforce.alerts.notices import describe, store_unavailable
from hubforce.errors import AuthFailed, ConfigError, ConnectorError, RateLimited

PAUSE_WINDOWS = frozenset({"daily", "budget"})


@dataclass(frozen=True, slots=True)
class Signals:
    """Per side: why authentication failed, and when the paused sync runs next ("HH:MM")."""

    auth_failed: dict[str, str] = field(default_factory=dict)
    paused: dict[str, str] = field(default_factory=dict)


def signals_from_outcome(error: BaseException | None, *, now_ms: int, tz: tzinfo = UTC) -> Signals:
    """Signals for a cycle that ended with `error` (None: it finished) at `now_ms`."""
    if isinstance(error, AuthFailed):
        reason = " ".join(part for part in (error.api_code, error.api_message) if part)
        return Signals(auth_failed={error.side: reason})
    if isinstance(error, RateLimited) and error.window in PAUSE_WINDOWS:
        resume = datetime.fromtimestamp(now_ms / 1000 + error.retry_after, tz)
        return Signals(paused={error.side: resume.strftime("%H:%M")})
    return Signals()


def failing_subject(error: BaseException) -> str | None:
    """What a failed attempt says is failing (the `failing` key of `Health`): the side whose
    API errors outlasted the retries, "store" when the state store is unreachable, "engine"
    for anything unexpected; None for the connection states above (a refused authentication,
    a rate limit: they have signals of their own) and a configuration error (it stops)."""
    if isinstance(error, (AuthFailed, RateLimited, ConfigError)):
        return None
    if isinstance(error, ConnectorError):
        return error.side
    if store_unavailable(error):
        return "store"
    return "engine"


def failing_from_outcome(error: BaseException | None) -> dict[str, str]:
    """`Health.failing` input for an attempt that ended with `error` (None: it finished)."""
    subject = None if error is None else failing_subject(error)
    if error is None or subject is None:
        return {}
    return {subject: describe(error, fix=False)}


__all__ = [
    "PAUSE_WINDOWS",
    "Signals",
    "failing_from_outcome",
    "failing_subject",
    "signals_from_outcome",
]
