"""Shared fakes for connector tests: scripted transports and a clock that never really waits."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from hubforce.connectors.http import RetryPolicy


class FakeClock:
    """Monotonic time that only moves when something sleeps on it."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Script:
    """A MockTransport handler answering from a queue, recording every request it saw.

    Each entry is a Response, an exception to raise, or a callable(request) -> Response.
    """

    def __init__(self, *steps: Any) -> None:
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        if not self.steps:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        step = self.steps.pop(0)
        if isinstance(step, BaseException):
            raise step
        if callable(step) and not isinstance(step, httpx.Response):
            return step(request)
        assert isinstance(step, httpx.Response)
        return step

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


def reply(status: int, body: Any = None, headers: dict[str, str] | None = None) -> httpx.Response:
    """A JSON response (no body for None)."""
    if body is None:
        return httpx.Response(status, headers=headers)
    return httpx.Response(status, json=body, headers=headers)


def body_of(request: httpx.Request) -> Any:
    """The JSON body a request carried."""
    return json.loads(request.content)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def policy(clock: FakeClock) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=4, base_delay=0.5, max_delay=8.0, rng=random.Random(7), sleep=clock.sleep
    )


Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
