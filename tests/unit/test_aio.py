"""gather_or_cancel: results in order, or the first error itself with nothing left running."""

from __future__ import annotations

import asyncio

import pytest

from hubforce.aio import each_chunk, gather_or_cancel
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


def test_chunks_go_a_few_at_a_time_and_come_back_in_order() -> None:
    in_flight = 0
    most = 0
    sent: list[tuple[int, int]] = []

    async def send(start: int, end: int) -> list[int]:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        sent.append((start, end))
        await asyncio.sleep(0.01 * ((start // 10) % 3))  # answers come back out of order
        in_flight -= 1
        return list(range(start, end))

    results = asyncio.run(each_chunk(95, 10, send, in_flight=3))

    assert results == list(range(95))
    assert sorted(sent) == [(s, min(s + 10, 95)) for s in range(0, 95, 10)]
    assert most == 3


def test_one_chunk_is_sent_inline_and_nothing_for_no_items() -> None:
    calls: list[tuple[int, int]] = []

    async def send(start: int, end: int) -> list[int]:
        calls.append((start, end))
        return [end - start]

    assert asyncio.run(each_chunk(7, 10, send)) == [7]
    assert asyncio.run(each_chunk(0, 10, send)) == []
    assert calls == [(0, 7)]


def test_the_first_error_cancels_the_chunks_still_running_and_is_raised_as_is() -> None:
    cancelled: list[int] = []

    async def send(start: int, end: int) -> list[int]:
        if start == 10:
            raise RateLimited("hubspot", 2.0, "ten_second")
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(start)
            raise
        return []

    async def go() -> None:
        with pytest.raises(RateLimited):
            await each_chunk(40, 10, send, in_flight=4)

    asyncio.run(go())
    assert sorted(cancelled) == [0, 20, 30]
