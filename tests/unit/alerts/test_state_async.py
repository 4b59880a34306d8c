"""`alert_after_attempt`: the webhook call runs off the event loop, the loop keeps serving."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from hubforce.alerts.digest import AlertKind, Digest
from hubforce.alerts.state import alert_after_attempt, load_state
from hubforce.store import Store, open_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    yield opened
    opened.close()


class SlowNotifier:
    """Blocks in `send` until the event loop has done something else meanwhile."""

    def __init__(self, accept: bool = True) -> None:
        self.loop_ran = threading.Event()
        self.threads: list[int] = []
        self.sent: list[Digest] = []
        self.accept = accept

    def send(self, digest: Digest) -> bool:
        self.threads.append(threading.get_ident())
        # On the loop's own thread this would wait in vain: the loop could not run the ticker.
        assert self.loop_ran.wait(timeout=5), "the event loop was blocked by the webhook call"
        self.sent.append(digest)
        return self.accept


def test_the_webhook_call_does_not_block_the_event_loop(store: Store) -> None:
    notifier = SlowNotifier()

    async def scenario() -> int:
        async def ticker() -> None:
            await asyncio.sleep(0.01)
            notifier.loop_ran.set()

        tick = asyncio.create_task(ticker())
        digest = await alert_after_attempt(store, notifier, auth_failed={"hubspot": "revoked"})
        await tick
        assert digest is not None and digest.alerts[0].kind is AlertKind.AUTH_FAILED
        return threading.get_ident()

    loop_thread = asyncio.run(scenario())
    assert notifier.threads and notifier.threads[0] != loop_thread
    assert load_state(store).auth_failed == frozenset({"hubspot"})


def test_a_refused_digest_is_kept_for_the_next_attempt(store: Store) -> None:
    refusing = SlowNotifier(accept=False)
    refusing.loop_ran.set()
    asyncio.run(alert_after_attempt(store, refusing, paused={"salesforce": "23:00"}))
    assert load_state(store).paused == frozenset()  # not delivered: not remembered
    accepting = SlowNotifier()
    accepting.loop_ran.set()
    digest = asyncio.run(alert_after_attempt(store, accepting, paused={"salesforce": "23:00"}))
    assert digest is not None and load_state(store).paused == frozenset({"salesforce"})
    assert asyncio.run(alert_after_attempt(store, None, paused={})) is None
