"""How repositories reach the database: a connection per call, or one shared by a unit of work.

Every repository method opens its connection through a `Connect` callable. On the `Store` that
callable begins a fresh transaction per call; inside `Store.transaction()` it hands out the one
connection of the unit of work, so links, snapshots, audit rows, intents and the cursor of one
batch commit together or not at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import TypeVar

from sqlalchemy import Connection

Connect = Callable[[], AbstractContextManager[Connection]]

T = TypeVar("T")

# Ids per lookup statement. Each list travels as ONE bound parameter (see `bulk.in_ids`), so
# this only bounds the size of a statement, not the number of its parameters.
IN_CHUNK = 5_000


def chunks(items: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    """Yield consecutive slices of at most `size` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def now_ms(now: int | None = None) -> int:
    """`now` if given (a clock passed in by the engine), else the wall clock in epoch ms."""
    return now if now is not None else int(time.time() * 1000)
