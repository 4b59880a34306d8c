"""gather_or_cancel: results in order, or the first error itself with nothing left running."""

from __future__ import annotations

import asyncio

import pytest

from hubforce.engine.concurrency import gather_or_cancel
from hubforce.errors import RateLimited


def test_results_come_back_in_the_order_given() -> None:
    async def value(v: int, hops: int) -> int:
        for _ in range(hops):
            await asyncio.sleep(0)
        return v

    assert asyncio.run(gather_or_cancel(value(1, 3), value(2, 0))) == [1, 2]
    assert asyncio.run(gather_or_cancel()) == []


def test_the_first_error_is_raised_as_is_and_the_others_are_stopped() -> None:
    stopped: list[str] = []

    async def slow() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            stopped.append("slow")
            raise

    async def failing() -> None:
        await asyncio.sleep(0)
        raise RateLimited("hubspot", 10.0, "budget")

    async def run() -> set[asyncio.Task[object]]:
        with pytest.raises(RateLimited) as caught:  # not wrapped in an ExceptionGroup
            await gather_or_cancel(slow(), failing())
        assert caught.value.window == "budget"
        return {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}

    assert asyncio.run(run()) == set()
    assert stopped == ["slow"]
