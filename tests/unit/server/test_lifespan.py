"""Graceful shutdown: the app's lifespan lets jobs finish, drains queued work, then cleans up."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from hubforce.server.app import ServerSettings, build_app
from hubforce.server.batching import ChangeBatcher
from hubforce.server.dispatch import Dispatcher
from hubforce.server.events import ChangeEvent
from hubforce.server.webhooks import WebhookSettings
from hubforce.sync.model import Side


class Target:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def sync_records(self, pair: str, side: Side, ids: Sequence[str]) -> None:
        await asyncio.sleep(0)  # a real sync awaits I/O
        self.log.append(f"synced {','.join(ids)}")


def test_shutdown_order_is_jobs_then_queued_syncs_then_cleanup() -> None:
    log: list[str] = []

    async def stop_jobs() -> None:
        log.append("jobs stopped")

    async def close_clients() -> None:
        log.append("clients closed")

    async def go() -> None:
        # A long batching window: without the drain on shutdown these ids would be lost.
        batcher = ChangeBatcher(Target(log), window_s=3600)
        dispatcher = Dispatcher(
            batcher=batcher, workflows=None, pairs={(Side.HUBSPOT, "contacts"): "contacts"}
        )
        app = build_app(
            ServerSettings(WebhookSettings("s")),
            dispatcher,
            on_start=[lambda: log.append("jobs started")],
            on_stop=[stop_jobs],
            cleanup=[close_clients],
        )
        async with app.router.lifespan_context(app):
            assert dispatcher.running
            event = ChangeEvent(Side.HUBSPOT, "contacts", "7", "creation", 1, "e1")
            assert dispatcher.submit([event]) == 1
            assert log == ["jobs started"]
        assert not dispatcher.running

    asyncio.run(go())
    assert log == ["jobs started", "jobs stopped", "synced 7", "clients closed"]
