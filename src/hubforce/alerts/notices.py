"""What a long-running loop says about a failing job: one clear line, once, then reminders.

`hubforce sync` (its loop) and `hubforce run` (scheduled jobs, targeted syncs) retry a failed
job on their next interval. Printing the same error (or worse, its traceback) every interval
buries everything else, so `Notices` turns each attempt's outcome into at most one line:

- the first failure of a job (or a different error than before): `<job> failed: <what>`;
- the same error again: nothing, except a reminder at most every `remind_every` seconds
  (`<job> still failing (N attempts since HH:MM UTC): <what>`);
- the first success after failures: `<job> works again (after N failed attempts since ...)`.

`describe` writes the line for an error: what failed (naming the side), the API's own code and
words, and the fix (the command to run). Known errors (hubforce's own, and a state store that
cannot be reached) need no traceback; anything else is a bug and its notice asks for one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from hubforce.errors import ConnectorError, HubforceError, RateLimited, redact, side_label

#: Default seconds between two reminders of one unchanged failure.
REMIND_EVERY_S = 600.0
_MAX_API_WORDS = 200


def store_unavailable(error: BaseException) -> bool:
    """True when `error` says the state store's database could not be reached (a lost
    connection, a locked SQLite file past its busy timeout): an outage, not a bug."""
    if isinstance(error, (OperationalError, InterfaceError)):
        return True
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


def known_error(error: BaseException) -> bool:
    """True for failures hubforce expects and explains (no traceback needed)."""
    return isinstance(error, HubforceError) or store_unavailable(error)


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return redact(line)[:_MAX_API_WORDS]


def describe(error: BaseException, *, fix: bool = True) -> str:
    """One line: what failed (and on which side), the API's words, and (with `fix`) what to
    do."""
    if isinstance(error, HubforceError):
        line = error.message
        if isinstance(error, ConnectorError) and error.api_code and error.api_code not in line:
            said = f"{error.api_code} {_first_line(error.api_message)}".strip()
            line += f" ({side_label(error.side)} said: {said})"
        # The hint's closing period would sit oddly before what a caller appends ("; next ...").
        return f"{line}; fix: {error.hint.rstrip('.')}" if fix and error.hint else line
    if store_unavailable(error):
        # The driver's own first line only: SQLAlchemy appends the statement and its
        # parameters, which may hold record values.
        cause = getattr(error, "orig", None) or error
        line = f"the state store is unavailable ({_first_line(str(cause))})"
        if fix:
            line += "; fix: check that the database in connections.store.url is reachable"
        return line
    words = _first_line(str(error))
    what = f"{type(error).__name__}: {words}" if words else type(error).__name__
    return f"unexpected {what} (a bug: its traceback is in the log; please report it)"


def fingerprint(error: BaseException) -> tuple[str, ...]:
    """What makes two failures "the same error" (a retry delay or a record id may differ)."""
    kind = type(error).__name__
    if isinstance(error, RateLimited):
        return (kind, error.side, error.window)
    if isinstance(error, ConnectorError):
        return (kind, error.side, str(error.status), error.api_code)
    if isinstance(error, HubforceError):
        return (kind, error.message)
    if store_unavailable(error):
        return ("store",)
    return (kind, _first_line(str(error)))


class NoticeKind(StrEnum):
    """Which line a notice is."""

    FAILED = "failed"
    REMINDER = "reminder"
    RECOVERED = "recovered"


@dataclass(frozen=True, slots=True)
class Notice:
    """One line to print or log; `traceback` asks for the exception's traceback with it."""

    kind: NoticeKind
    text: str
    traceback: bool = False


@dataclass(slots=True)
class _Outage:
    key: tuple[str, ...]
    since_ms: int
    attempts: int
    said_at: float


def _hhmm(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%H:%M UTC")


class Notices:
    """Per job: the first failure, a reminder now and then, and the recovery (see module)."""

    def __init__(
        self,
        *,
        remind_every: float = REMIND_EVERY_S,
        monotonic: Callable[[], float] = time.monotonic,
        now_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self.remind_every = remind_every
        self.monotonic = monotonic
        self.now_ms = now_ms
        self._outages: dict[str, _Outage] = {}

    def failing(self, job: str) -> bool:
        """True while `job` has failed since its last success."""
        return job in self._outages

    def failed(self, job: str, error: BaseException, *, then: str = "") -> Notice | None:
        """The line for a failed attempt of `job` (None: the same error was said recently).
        `then` is appended to the line, e.g. "; next attempt in 30s"."""
        key = fingerprint(error)
        now = self.monotonic()
        outage = self._outages.get(job)
        if outage is None or outage.key != key:
            since = self.now_ms() if outage is None else outage.since_ms
            attempts = 1 if outage is None else outage.attempts + 1
            self._outages[job] = _Outage(key, since, attempts, now)
            return Notice(
                NoticeKind.FAILED,
                f"{job} failed: {describe(error)}{then}",
                traceback=not known_error(error),
            )
        outage.attempts += 1
        if now - outage.said_at < self.remind_every:
            return None
        outage.said_at = now
        return Notice(
            NoticeKind.REMINDER,
            f"{job} still failing ({outage.attempts} attempts since {_hhmm(outage.since_ms)}): "
            f"{describe(error)}{then}",
        )

    def succeeded(self, job: str) -> Notice | None:
        """The recovery line when `job` had failed (None when it was healthy)."""
        outage = self._outages.pop(job, None)
        if outage is None:
            return None
        n = outage.attempts
        return Notice(
            NoticeKind.RECOVERED,
            f"{job} works again (after {n} failed attempt{'' if n == 1 else 's'} "
            f"since {_hhmm(outage.since_ms)})",
        )


__all__ = [
    "REMIND_EVERY_S",
    "Notice",
    "NoticeKind",
    "Notices",
    "describe",
    "fingerprint",
    "known_error",
    "store_unavailable",
]
