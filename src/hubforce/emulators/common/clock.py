"""A controllable clock: real time plus an offset that the control API can advance."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class EmulatorClock:
    """Wall-clock time that tests can move forward (never backward) or freeze."""

    def __init__(self, start: datetime | None = None, *, frozen: bool = False) -> None:
        self._lock = threading.Lock()
        self._offset = timedelta(0)
        self._frozen_at: datetime | None = None
        if start is not None:
            self._offset = start.astimezone(UTC) - datetime.now(UTC)
        if frozen:
            self._frozen_at = self._real_now()

    def _real_now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def now(self) -> datetime:
        """The emulator's current time, timezone-aware UTC."""
        with self._lock:
            return self._frozen_at if self._frozen_at is not None else self._real_now()

    def now_ms(self) -> int:
        """The emulator's current time in epoch milliseconds."""
        return int(self.now().timestamp() * 1000)

    def advance(self, seconds: float) -> datetime:
        """Move the clock forward by `seconds` and return the new time."""
        if seconds < 0:
            raise ValueError("the emulator clock only moves forward")
        with self._lock:
            self._offset += timedelta(seconds=seconds)
            if self._frozen_at is not None:
                self._frozen_at += timedelta(seconds=seconds)
        return self.now()

    def freeze(self, frozen: bool = True) -> None:
        """Stop (or restart) the clock at its current reading."""
        with self._lock:
            if frozen and self._frozen_at is None:
                self._frozen_at = self._real_now()
            elif not frozen and self._frozen_at is not None:
                self._offset = self._frozen_at - datetime.now(UTC)
                self._frozen_at = None

    @property
    def frozen(self) -> bool:
        """True while the clock is frozen."""
        return self._frozen_at is not None
