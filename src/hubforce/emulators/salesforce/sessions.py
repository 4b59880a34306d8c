"""Access tokens, refresh tokens and authorization codes, expiring on the emulator clock."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from hubforce.emulators.common.clock import EmulatorClock
from hubforce.emulators.salesforce.exceptions import InvalidSessionId


@dataclass
class Session:
    """An issued access token."""

    user_id: str
    expires_at: float | None  # epoch seconds on the emulator clock; None never expires
    grant: str | None = None  # the refresh token it was issued from, if any


class SessionStore:
    """Who each bearer token belongs to, and until when."""

    def __init__(self, clock: EmulatorClock, org_id: str, static_token: str, lifetime: int) -> None:
        self.clock = clock
        self.org_id = org_id
        self.static_token = static_token
        self.lifetime = lifetime
        self._access: dict[str, Session] = {}
        self._refresh: dict[str, str] = {}  # refresh token -> user id
        self._codes: dict[str, tuple[str, float]] = {}  # auth code -> (user id, expiry)

    def _token(self) -> str:
        return f"{self.org_id[:15]}!{secrets.token_urlsafe(40)}"

    def issue(self, user_id: str, *, grant: str | None = None) -> str:
        """A new access token for `user_id`, valid for the configured lifetime (`grant`: the
        refresh token it comes from, so that revoking that token ends it too)."""
        token = self._token()
        expiry = self.clock.now().timestamp() + self.lifetime
        self._access[token] = Session(user_id, expiry, grant)
        return token

    def issue_refresh(self, user_id: str) -> str:
        """A refresh token (authorization-code flow only)."""
        token = f"5Aep{secrets.token_urlsafe(48)}"
        self._refresh[token] = user_id
        return token

    def redeem_refresh(self, token: str) -> str | None:
        """The user a refresh token belongs to, or None."""
        return self._refresh.get(token)

    def issue_code(self, user_id: str) -> str:
        """A one-time authorization code valid for 15 minutes."""
        code = f"aPrx{secrets.token_urlsafe(32)}"
        self._codes[code] = (user_id, self.clock.now().timestamp() + 900)
        return code

    def redeem_code(self, code: str) -> str | None:
        """The user of a still-valid code (which is then spent), or None."""
        found = self._codes.pop(code, None)
        if found is None or found[1] < self.clock.now().timestamp():
            return None
        return found[0]

    def user_of(self, token: str, static_user: str) -> str:
        """The user a bearer token acts as; INVALID_SESSION_ID when unknown or expired."""
        if token == self.static_token:
            return static_user
        session = self._access.get(token)
        if session is None:
            raise InvalidSessionId("Session expired or invalid")
        now = self.clock.now().timestamp()
        if session.expires_at is not None and session.expires_at <= now:
            self._access.pop(token, None)
            raise InvalidSessionId("Session expired or invalid")
        # Salesforce times sessions out after inactivity: each use extends the session.
        session.expires_at = now + self.lifetime
        return session.user_id

    def revoke(self, refresh_token: str | None = None) -> int:
        """Revoke one refresh token, or every OAuth grant of the org, and the sessions issued
        from it (all issued sessions when revoking everything; the static token stays).
        Returns how many refresh tokens went."""
        if refresh_token is None:
            revoked = len(self._refresh)
            self._refresh.clear()
            self._access.clear()
            self._codes.clear()
            return revoked
        if self._refresh.pop(refresh_token, None) is None:
            return 0
        self._access = {k: v for k, v in self._access.items() if v.grant != refresh_token}
        return 1

    def expire_all(self) -> int:
        """Expire every issued access token (the static token stays); return how many."""
        count = len(self._access)
        self._access.clear()
        return count
