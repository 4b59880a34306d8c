"""Credentials encrypted at rest (refresh tokens from `hubforce connect`), Fernet-keyed.

The key comes from the environment (`HUBFORCE_SECRET_KEY`, a urlsafe base64 Fernet key); the
database holds only ciphertext. Plaintext never enters a log line, an error or a repr.
"""

from __future__ import annotations

import os

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import delete, select

from hubforce.errors import StoreError
from hubforce.store.bulk import upsert_one
from hubforce.store.session import Connect, now_ms
from hubforce.store.tables import credentials

KEY_ENV = "HUBFORCE_SECRET_KEY"


class SecretBox:
    """Encrypts and decrypts short secrets with one Fernet key."""

    def __init__(self, key: str | bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError) as exc:
            raise StoreError(
                "the secret key is not a valid Fernet key",
                f"set {KEY_ENV} to 32 url-safe base64-encoded bytes, "
                "e.g. from SecretBox.generate_key()",
            ) from exc

    def __repr__(self) -> str:
        return "SecretBox(key=[redacted])"

    @staticmethod
    def generate_key() -> str:
        """A fresh random key, as text to put in the environment."""
        return Fernet.generate_key().decode()

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> SecretBox:
        """The box for the key in `HUBFORCE_SECRET_KEY`; StoreError with a hint if unset."""
        key = (os.environ if env is None else env).get(KEY_ENV, "").strip()
        if not key:
            raise StoreError(
                f"{KEY_ENV} is not set, so stored credentials cannot be encrypted or read",
                f"generate one with `python -c 'from hubforce.store import SecretBox; "
                f"print(SecretBox.generate_key())'` and export {KEY_ENV}",
            )
        return cls(key)

    def encrypt(self, plaintext: str) -> bytes:
        """Ciphertext of `plaintext` (authenticated, timestamped)."""
        return self._fernet.encrypt(plaintext.encode())

    def decrypt(self, ciphertext: bytes) -> str:
        """Plaintext of `ciphertext`; StoreError if it was made with another key or altered."""
        try:
            return self._fernet.decrypt(ciphertext).decode()
        except InvalidToken as exc:
            raise StoreError(
                "a stored credential cannot be decrypted with the current key",
                f"{KEY_ENV} changed since it was stored: restore the old key, or reconnect "
                "with `hubforce connect hubspot|salesforce`",
            ) from exc


class CredentialRepository:
    """Named credentials (e.g. "hubspot.refresh_token"), stored as ciphertext only."""

    def __init__(self, connect: Connect) -> None:
        self._connect = connect

    def put(self, name: str, plaintext: str, box: SecretBox, *, now: int | None = None) -> None:
        """Encrypt and store `plaintext` under `name`, replacing any previous value."""
        row = {"name": name, "ciphertext": box.encrypt(plaintext), "updated_at": now_ms(now)}
        with self._connect() as conn:
            upsert_one(conn, credentials, row, ("name",))

    def get(self, name: str, box: SecretBox) -> str | None:
        """The decrypted credential `name`, or None if none is stored."""
        stmt = select(credentials.c.ciphertext).where(credentials.c.name == name)
        with self._connect() as conn:
            ciphertext = conn.execute(stmt).scalar_one_or_none()
        return None if ciphertext is None else box.decrypt(bytes(ciphertext))

    def delete(self, name: str) -> bool:
        """Forget credential `name`; True if it existed."""
        with self._connect() as conn:
            return conn.execute(delete(credentials).where(credentials.c.name == name)).rowcount > 0

    def names(self) -> list[str]:
        """Names of the stored credentials (never their values)."""
        with self._connect() as conn:
            stmt = select(credentials.c.name).order_by(credentials.c.name)
            return list(conn.execute(stmt).scalars())
