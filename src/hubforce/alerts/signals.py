"""What a cycle's outcome says about connection health, as input for `alert_after_cycle` (pure).

A cycle either finishes (everything healthy apart from record failures) or stops on a fatal
error: `AuthFailed` means that side's connection needs reauthorizing, `RateLimited` on the
daily or budget window means the sync pauses until the window resets. Short windows (ten
seconds, one second) are paced by the governor and are not worth a message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo

from hubforce.errors import AuthFailed, RateLimited

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


__all__ = ["PAUSE_WINDOWS", "Signals", "signals_from_outcome"]
