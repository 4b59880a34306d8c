"""Running independent calls at the same time, and stopping them cleanly on errors.

The two sides have independent APIs and rate windows, and HubSpot's search window is
independent of its ten-second window, so reads and writes that do not depend on each other
overlap; a batch operation's chunks go a few at a time (`each_chunk`). `asyncio.gather` alone
would leave the other calls running when one fails; `asyncio.TaskGroup` would wrap the error in
an ExceptionGroup. Callers expect the error itself (e.g. `RateLimited`), with nothing left
running behind it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def gather_or_cancel(*steps: Awaitable[Any]) -> list[Any]:
    """Await `steps` concurrently; on the first error cancel the others, wait for them to
    end, and raise that error unchanged. Results in the order given."""
    tasks = [asyncio.ensure_future(step) for step in steps]
    if not tasks:
        return []
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        await cancel_and_wait(*tasks)
        raise


async def cancel_and_wait(*tasks: asyncio.Future[Any]) -> None:
    """Cancel `tasks` and wait until they have ended; their own errors are dropped (the
    caller is already handling one), so none is left unretrieved."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


#: Chunks of one batch operation in flight at once. With an API's real latency (100-300 ms a
#: call) one at a time made a round's waves take seconds each, far above what the rate limits
#: impose; the governor still paces every send (a call in flight counts in its window).
IN_FLIGHT = 4


async def each_chunk(
    count: int,
    size: int,
    send: Callable[[int, int], Awaitable[list[T]]],
    *,
    in_flight: int = IN_FLIGHT,
) -> list[T]:
    """`send(start, end)` for each chunk [start, end) of `count` items, up to `in_flight` at
    once; their results joined in chunk order. The first error cancels the chunks still
    running and is raised as is (what the others answered is lost with it, as it was when
    they went one by one: the caller treats the whole operation as failed)."""
    starts = range(0, count, size)
    if len(starts) <= 1:
        return await send(0, count) if count else []
    gate = asyncio.Semaphore(max(1, in_flight))

    async def one(start: int) -> list[T]:
        async with gate:
            return await send(start, min(start + size, count))

    parts = await gather_or_cancel(*(one(start) for start in starts))
    return [result for part in parts for result in part]
