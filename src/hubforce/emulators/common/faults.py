"""Fault injection: per-route sequences or rates of errors, timeouts and added latency.

A rule matches requests by method and a glob on the path. It either plays a `sequence` of outcomes
in order (one per matching request, then passes), or fires `fault` with probability `rate` from a
seeded random source. Outcomes are strings: "ok" passes, "timeout" holds the request for
`timeout_seconds` then answers 504, and anything else ("500", "503", "unable_to_lock_row", ...) is
rendered by the emulator in its vendor's wire format. The control API is never faulted.
"""

from __future__ import annotations

import asyncio
import fnmatch
import random
import threading
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field, model_validator
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from hubforce.emulators.common.stats import CONTROL_PREFIX

FaultRenderer = Callable[[str], Response | None]


class FaultRule(BaseModel):
    """One fault rule, as posted to `/__emulator__/faults`."""

    route: str = Field(description="glob on the request path, e.g. '/services/data/*/query*'")
    method: str | None = Field(default=None, description="HTTP method; any when omitted")
    sequence: list[str] | None = None
    fault: str | None = None
    rate: float | None = Field(default=None, ge=0.0, le=1.0)
    count: int | None = Field(default=None, ge=1, description="stop after firing this many times")
    latency_ms: int = Field(default=0, ge=0)
    timeout_seconds: float = Field(default=30.0, ge=0.0)
    seed: int = 0

    @model_validator(mode="after")
    def _one_kind(self) -> FaultRule:
        if self.sequence is None and self.fault is None and not self.latency_ms:
            raise ValueError("a fault rule needs `sequence`, `fault` (with `rate`) or `latency_ms`")
        if self.fault is not None and self.rate is None:
            self.rate = 1.0
        return self


class FaultPlan:
    """The active rules and their progress; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[tuple[FaultRule, dict[str, Any]]] = []
        self.fired = 0

    def set_rules(self, rules: list[FaultRule], *, append: bool = False) -> None:
        """Replace (or extend) the active rules."""
        with self._lock:
            fresh = [(r, {"pos": 0, "fired": 0, "rng": random.Random(r.seed)}) for r in rules]
            self._rules = [*self._rules, *fresh] if append else fresh

    def clear(self) -> None:
        """Remove every rule."""
        self.set_rules([])

    def describe(self) -> list[dict[str, Any]]:
        """The rules with how far each has played."""
        with self._lock:
            return [
                {**r.model_dump(exclude_none=True), "fired": st["fired"], "position": st["pos"]}
                for r, st in self._rules
            ]

    def decide(self, method: str, path: str) -> tuple[str | None, int, float]:
        """(outcome or None, added latency ms, timeout seconds) for one request."""
        latency = 0
        with self._lock:
            for rule, st in self._rules:
                if rule.method and rule.method.upper() != method.upper():
                    continue
                if not fnmatch.fnmatchcase(path, rule.route):
                    continue
                latency += rule.latency_ms
                if rule.count is not None and st["fired"] >= rule.count:
                    continue
                outcome: str | None = None
                if rule.sequence is not None:
                    if st["pos"] < len(rule.sequence):
                        outcome = rule.sequence[st["pos"]]
                        st["pos"] += 1
                elif rule.fault is not None and st["rng"].random() < (rule.rate or 0.0):
                    outcome = rule.fault
                if outcome is not None and outcome != "ok":
                    st["fired"] += 1
                    self.fired += 1
                    return outcome, latency, rule.timeout_seconds
        return None, latency, 0.0


class FaultMiddleware:
    """Applies the plan before the vendor app sees a request."""

    def __init__(
        self,
        app: ASGIApp,
        plan: FaultPlan,
        render: FaultRenderer,
        default_latency_ms: Callable[[], int] = lambda: 0,
    ) -> None:
        self.app = app
        self.plan = plan
        self.render = render
        self.default_latency_ms = default_latency_ms

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        outcome, latency, timeout = self.plan.decide(scope["method"], scope["path"])
        latency += self.default_latency_ms()
        if latency:
            await asyncio.sleep(latency / 1000)
        if outcome is None:
            await self.app(scope, receive, send)
            return
        if outcome == "timeout":
            await asyncio.sleep(timeout)
            response: Response = JSONResponse({"message": "gateway timeout"}, status_code=504)
        else:
            rendered = self.render(outcome)
            if rendered is None:
                response = JSONResponse({"message": f"unknown fault {outcome!r}"}, status_code=500)
            else:
                response = rendered
        await response(scope, receive, send)
