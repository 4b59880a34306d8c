"""The one HTTP seam of each side: client factory, pacing, classification and bounded retries.

Every request of a connector goes through `ApiSession.request`, which reads like prose:
ask the governor, send, count, classify, and either return, wait and retry, or raise one typed
error. Retries live here and nowhere else. A request that is not idempotent (a create) is only
resent when the API certainly did not act on it (connection refused, 429, 503, locked row), so
that a retry can never make a duplicate; otherwise the error surfaces and the engine's create
intents take over.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from hubforce.connectors.governor import Governor
from hubforce.connectors.records import CallCounter
from hubforce.errors import ConnectorError, RateLimited, Transient, redact

Sleep = Callable[[float], Awaitable[None]]
#: Turns a response into None (success) or the typed error it means.
Classifier = Callable[[httpx.Response], ConnectorError | None]

log = logging.getLogger("hubforce.connectors")

_UNSENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_SAFE_STATUSES = frozenset({429, 503})
_SAFE_CODES = frozenset({"UNABLE_TO_LOCK_ROW", "REQUEST_LIMIT_EXCEEDED"})


@dataclass(slots=True)
class RetryPolicy:
    """Capped exponential backoff with jitter and a bounded number of attempts.

    `rng` and `sleep` are injectable so tests are deterministic and never really wait.
    A wait longer than `max_wait` (e.g. a daily limit) is not slept: it surfaces as the error.
    """

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_wait: float = 120.0
    rng: random.Random = field(default_factory=lambda: random.Random(0x4855))
    sleep: Sleep = asyncio.sleep

    def backoff(self, attempt: int) -> float:
        """Seconds before attempt `attempt + 1` ("equal jitter": half fixed, half random)."""
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        jitter: float = self.rng.uniform(0, ceiling / 2)
        return ceiling / 2 + jitter


def build_http_client(
    base_url: str,
    *,
    auth: httpx.Auth | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    timeout: float = 30.0,
    headers: Mapping[str, str] | None = None,
    verify: bool | str = True,
) -> httpx.AsyncClient:
    """An AsyncClient for one API: base URL, auth flow, timeouts; `transport` swaps the wire."""
    return httpx.AsyncClient(
        base_url=base_url,
        auth=auth,
        transport=transport,
        timeout=httpx.Timeout(timeout),
        headers={"Accept": "application/json", "User-Agent": "hubforce", **(headers or {})},
        verify=verify,
    )


class ApiSession:
    """Sends one side's requests through its governor, classifier and retry policy."""

    def __init__(
        self,
        side: str,
        client: httpx.AsyncClient,
        classify: Classifier,
        *,
        governor: Governor | None = None,
        policy: RetryPolicy | None = None,
        calls: CallCounter | None = None,
    ) -> None:
        self.side = side
        self.client = client
        self.classify = classify
        self.governor = governor
        self.policy = policy or RetryPolicy()
        self.calls = calls or CallCounter()

    async def request(
        self,
        method: str,
        url: str,
        *,
        kind: str,
        params: Any = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool = True,
    ) -> httpx.Response:
        """Send until success or a typed error; `kind` names the call for pacing and counts."""
        attempt = 0
        while True:
            attempt += 1
            if self.governor is not None:
                await self.governor.before(kind)
            self.calls.count(kind)
            try:
                response = await self.client.request(
                    method, url, params=params, json=json, headers=headers
                )
            except BaseException as exc:
                if self.governor is not None:
                    self.governor.unanswered()
                if not isinstance(exc, httpx.TransportError):
                    raise
                error = Transient(self.side, redact(f"{type(exc).__name__} calling {url}: {exc}"))
                if attempt < self.policy.max_attempts and (idempotent or isinstance(exc, _UNSENT)):
                    await self._wait(self.policy.backoff(attempt), error, kind, attempt)
                    continue
                raise error from exc
            if self.governor is not None:
                self.governor.after(kind, response)
            failure = self.classify(response)
            if failure is None:
                return response
            delay = self._retry_delay(failure, attempt, idempotent)
            if delay is None:
                raise failure
            if isinstance(failure, RateLimited):
                self.calls.rate_limited += 1
            await self._wait(delay, failure, kind, attempt)

    def _retry_delay(self, error: ConnectorError, attempt: int, idempotent: bool) -> float | None:
        """Seconds to wait before retrying `error`, or None when it must surface now."""
        if not error.retryable or attempt >= self.policy.max_attempts:
            return None
        safe = error.status in _SAFE_STATUSES or error.api_code in _SAFE_CODES
        if not (idempotent or safe):
            return None
        delay = self.policy.backoff(attempt)
        if isinstance(error, RateLimited):
            delay = max(delay, error.retry_after)
        return delay if delay <= self.policy.max_wait else None

    async def _wait(self, seconds: float, error: ConnectorError, kind: str, attempt: int) -> None:
        self.calls.retries += 1
        # One warning per failing call; its further retries only at INFO (a flaky minute
        # would otherwise print every attempt of every call).
        log.log(
            logging.WARNING if attempt == 1 else logging.INFO,
            "%s %s: %s; retry %d/%d in %.1fs",
            self.side,
            kind,
            error.message,
            attempt,
            self.policy.max_attempts - 1,
            seconds,
        )
        await self.policy.sleep(seconds)

    async def aclose(self) -> None:
        """Close the underlying client."""
        await self.client.aclose()
