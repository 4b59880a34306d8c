"""Credentials: Fernet-encrypted at rest, readable only with the key, never shown in clear."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hubforce.errors import StoreError
from hubforce.store import KEY_ENV, SecretBox, Store
from hubforce.store.tables import credentials
from tests.unit.store.backends import PostgresBackend, SQLiteBackend

TOKEN = "hubspot-refresh-7f3c9a1e-2b4d-4e8f-9a6b-5c3d2e1f0a9b"


def test_secret_box_round_trips_and_hides_its_key() -> None:
    key = SecretBox.generate_key()
    box = SecretBox(key)

    ciphertext = box.encrypt(TOKEN)

    assert TOKEN.encode() not in ciphertext
    assert box.decrypt(ciphertext) == TOKEN
    assert key not in repr(box)


def test_a_box_with_another_key_cannot_decrypt_and_says_why() -> None:
    ciphertext = SecretBox(SecretBox.generate_key()).encrypt(TOKEN)

    with pytest.raises(StoreError, match="cannot be decrypted") as exc:
        SecretBox(SecretBox.generate_key()).decrypt(ciphertext)
    assert "hubforce connect" in exc.value.hint
    assert TOKEN not in str(exc.value)


def test_key_from_the_environment_is_required_and_validated() -> None:
    key = SecretBox.generate_key()
    assert SecretBox.from_env({KEY_ENV: key}).decrypt(SecretBox(key).encrypt("x")) == "x"

    with pytest.raises(StoreError, match=f"{KEY_ENV} is not set") as missing:
        SecretBox.from_env({})
    assert "generate_key" in missing.value.hint
    with pytest.raises(StoreError, match="not a valid Fernet key") as bad:
        SecretBox.from_env({KEY_ENV: "not-a-key-but-a-password"})
    assert "not-a-key-but-a-password" not in str(bad.value)


class SecretsContract:
    def test_credentials_are_stored_as_ciphertext_only(self, store: Store) -> None:
        box = SecretBox(SecretBox.generate_key())

        store.secrets.put("hubspot.refresh_token", TOKEN, box, now=1)
        store.secrets.put("hubspot.refresh_token", TOKEN + "-rotated", box, now=2)
        store.secrets.put("salesforce.refresh_token", "sf", box)

        with store.engine.connect() as conn:
            raw = conn.execute(select(credentials.c.ciphertext)).scalars().all()
        assert all(TOKEN.encode() not in bytes(value) for value in raw)
        assert store.secrets.get("hubspot.refresh_token", box) == TOKEN + "-rotated"
        assert store.secrets.get("missing", box) is None
        assert store.secrets.names() == ["hubspot.refresh_token", "salesforce.refresh_token"]

    def test_delete_forgets_a_credential(self, store: Store) -> None:
        box = SecretBox(SecretBox.generate_key())
        store.secrets.put("hubspot.refresh_token", TOKEN, box)

        assert store.secrets.delete("hubspot.refresh_token") is True
        assert store.secrets.delete("hubspot.refresh_token") is False
        assert store.secrets.get("hubspot.refresh_token", box) is None


class TestSecretsSQLite(SecretsContract, SQLiteBackend):
    pass


class TestSecretsPostgres(SecretsContract, PostgresBackend):
    pass
