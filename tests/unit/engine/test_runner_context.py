"""`sync_context` closes everything it opened, also when building a later part fails."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from hubforce.engine import runner
from hubforce.engine.local import local_config
from hubforce.engine.runner import sync_context
from hubforce.errors import ConfigError
from hubforce.store import Store, open_store
from hubforce.sync.model import Side


class ClosingTransport(httpx.AsyncBaseTransport):
    """Answers nothing; remembers being closed (an AsyncClient closes its transport)."""

    def __init__(self) -> None:
        self.closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request is expected")

    async def aclose(self) -> None:
        self.closed = True


def _jwt_without_key(tmp_path: Path) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        data["connections"]["salesforce"] = {
            "login_url": "http://salesforce.emulator",
            "jwt": {
                "client_id": "cid",
                "username": "u@example.com",
                "private_key_file": str(tmp_path / "missing.pem"),
            },
        }

    return edit


@pytest.mark.parametrize("own_store", [True, False])
def test_a_salesforce_client_that_cannot_be_built_closes_the_hubspot_one(
    tmp_path: Path, own_store: bool
) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    config = local_config(
        "http://hubspot.emulator",
        "http://salesforce.emulator",
        url,
        edit=_jwt_without_key(tmp_path),
    )
    hubspot = ClosingTransport()
    given = None if own_store else open_store(url)

    async def enter() -> None:
        async with sync_context(config, store=given, transports={Side.HUBSPOT: hubspot}):
            raise AssertionError("the context must not open")

    with pytest.raises(ConfigError) as caught:
        asyncio.run(enter())
    assert "private_key_file" in caught.value.key_path
    assert hubspot.closed
    if given is not None:  # a store the caller passed stays open for the caller
        assert given.runs.latest(kind="sync") is None
        given.close()


def test_the_store_it_opened_is_closed_when_a_client_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    config = local_config(
        "http://hubspot.emulator",
        "http://salesforce.emulator",
        url,
        edit=_jwt_without_key(tmp_path),
    )
    closed: list[bool] = []
    real_open = open_store

    def spy(store_url: str) -> Store:
        store = real_open(store_url)
        original = store.close

        def close() -> None:
            closed.append(True)
            original()

        store.close = close  # type: ignore[method-assign]
        return store

    monkeypatch.setattr(runner, "open_store", spy)

    async def enter() -> None:
        async with sync_context(config, transports={Side.HUBSPOT: ClosingTransport()}):
            raise AssertionError("the context must not open")

    with pytest.raises(ConfigError):
        asyncio.run(enter())
    assert closed == [True]
