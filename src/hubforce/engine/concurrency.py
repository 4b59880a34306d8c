"""Running a cycle's independent calls at the same time, and stopping them cleanly on errors.

The two sides have independent APIs and rate windows, and HubSpot's search window is
independent of its ten-second window, so reads and writes that do not depend on each other
overlap. `asyncio.gather` alone would leave the other calls running when one fails;
`asyncio.TaskGroup` would wrap the error in an ExceptionGroup. Callers expect the error itself
(e.g. `RateLimited`), with nothing left running behind it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
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
