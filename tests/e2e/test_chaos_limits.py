"""Chaos with HubSpot's real limits, not injected 429s: another integration spends them.

The HubSpot emulator's own limiters run with windows short enough for second-long tests (a
one-second burst window, the search API's five a second). A second integration of the same
portal (same private app, so the same windows and the same daily count) spends a window right
before chosen calls of the engine, so the engine meets genuine 429s from the emulator and must
wait them out by policy (the window's reset) with the real clock; or it spends the day's whole
allocation mid cycle, so the cycle stops with RateLimited and the sync pauses until the reset.
Each scenario ends with both sides equal to a fault-free run of the same seed.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml
from typer.testing import CliRunner

from hubforce.cli import app
from hubforce.connectors.governor import Governor, hubspot_governor, salesforce_governor
from hubforce.connectors.http import RetryPolicy
from hubforce.connectors.records import CallCounter
from hubforce.engine.context import CycleOptions, CycleReport
from hubforce.engine.cycle import PAIR_ORDER, run_cycle
from hubforce.engine.local import EMULATOR_ENV
from hubforce.engine.runner import sync_context
from hubforce.errors import RateLimited
from hubforce.sync.model import Side
from tests.e2e.chaos_helpers import assert_converged, cursors, workload
from tests.e2e.conftest import HS_URL, TOKEN, Harness

WINDOW_S = 1.0
ENTERPRISE = {"tier": "enterprise", "burst_window_seconds": 10, "search_per_second": 10_000}


def _kind(request: httpx.Request) -> str | None:
    path = request.url.path.rstrip("/")
    if not path.startswith("/crm/"):
        return None
    if request.method == "POST" and path.endswith("/search"):
        return "search"
    if request.method == "POST" and "/batch/" in path and not path.endswith("/read"):
        return "write"
    return "crm"


class OtherIntegration(httpx.AsyncBaseTransport):
    """The engine's HubSpot wire, in a portal shared with a second integration.

    `plan` maps (kind, n) -> window: right before the engine's n-th call of that kind
    ("crm", "search" or "write"; retries count), the other integration calls until the
    emulator refuses it ("burst", "search" or "daily"), so the engine's call meets a window
    spent by someone else. Every 429 the engine gets is kept, and the time until it sent
    that same call again.
    """

    def __init__(self, app: Any, plan: Mapping[tuple[str, int], str]) -> None:
        self.engine_wire = httpx.ASGITransport(app=app)
        self.other_wire = httpx.ASGITransport(app=app)
        self.plan = dict(plan)
        self.seen: Counter[str] = Counter()
        self.spent: Counter[str] = Counter()
        self.storms: Counter[str] = Counter()
        self.refused: list[tuple[str, str]] = []  # (kind, policyName) of the engine's 429s
        self.waits: list[tuple[str, float]] = []  # (policy, seconds until that call came again)
        self._refused_at: dict[tuple[str, str, bytes], tuple[str, float]] = {}
        self._spent_at: dict[str, float] = {}
        #: 429s that met a window the other integration had not just spent (the engine's own).
        self.unprovoked: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        kind = _kind(request)
        if kind is None:
            return await self.engine_wire.handle_async_request(request)
        call = (request.method, str(request.url), await request.aread())
        if call in self._refused_at:  # the engine sends a refused call again
            policy, at = self._refused_at.pop(call)
            self.waits.append((policy, time.monotonic() - at))
        for each in {kind, "crm"} if kind == "write" else {kind}:
            self.seen[each] += 1
            window = self.plan.get((each, self.seen[each]))
            if window is not None:
                await self._spend(window)
        response = await self.engine_wire.handle_async_request(request)
        if response.status_code == 429:
            body = await response.aread()
            policy = str(httpx.Response(429, content=body).json().get("policyName"))
            self.refused.append((kind, policy))
            window = {"TEN_SECONDLY_ROLLING": "burst", "SECONDLY": "search"}.get(policy, "daily")
            spent = self._spent_at.get(window)
            if spent is None or (window != "daily" and time.monotonic() - spent > WINDOW_S):
                self.unprovoked.append(policy)
            self._refused_at[call] = (policy, time.monotonic())
            return httpx.Response(429, headers=response.headers, content=body)
        return response

    async def _spend(self, window: str) -> None:
        async with httpx.AsyncClient(
            transport=self.other_wire, base_url=HS_URL, headers=TOKEN
        ) as other:
            while True:
                if window == "search":
                    reply = await other.post("/crm/v3/objects/deals/search", json={"limit": 1})
                else:
                    reply = await other.get("/crm/v3/objects/deals", params={"limit": 1})
                if reply.status_code == 429:
                    self._spent_at[window] = time.monotonic()
                    self.storms[window] += 1
                    return
                assert reply.status_code == 200, reply.text
                self.spent[window] += 1


def windows_rolled(h: Harness, deadline_s: float = 5.0) -> None:
    """Poll the emulator until both HubSpot windows are empty."""
    deadline = time.monotonic() + deadline_s
    while True:
        limits = h.call(Side.HUBSPOT, "GET", "/__emulator__/limits")
        if (
            limits["burst_remaining"] == limits["burst"]
            and limits["search_remaining"] == limits["search_per_second"]
        ):
            return
        assert time.monotonic() < deadline, limits
        time.sleep(0.05)


def sync_under_limits(
    h: Harness,
    wire: httpx.AsyncBaseTransport,
    governors: dict[Side, Governor],
) -> tuple[CycleReport | RateLimited, CallCounter]:
    """One cycle as the CLI runs it: real governors (kept across cycles, as `hubforce sync`
    keeps them), the real retry policy and clock; HubSpot reached through `wire`."""

    async def cycle() -> tuple[CycleReport | RateLimited, CallCounter]:
        async with sync_context(
            h.config,
            options=CycleOptions(),
            store=h.store,
            transports={Side.HUBSPOT: wire, Side.SALESFORCE: h.transports[Side.SALESFORCE]},
            policy=RetryPolicy(),
            governors=governors,
        ) as ctx:
            try:
                return await run_cycle(ctx), ctx.hubspot.calls
            except RateLimited as exc:
                return exc, ctx.hubspot.calls

    return h.run(cycle())


def test_429_storms_in_both_hubspot_windows_are_waited_out_and_converge(
    harness: Harness, migrated_store: Path, tmp_path: Path
) -> None:
    seed = 121
    workload(harness, seed)
    harness.call(
        Side.HUBSPOT,
        "PUT",
        "/__emulator__/limits",
        {"burst": 30, "burst_window_seconds": WINDOW_S, "search_per_second": 5},
    )
    windows_rolled(harness)  # the workload's own calls leave the new, shorter windows
    # Storms before the engine's 3rd call (and its retry: two 429s in a row), its 8th call
    # (if the cycle makes that many), and its 2nd search.
    plan = {("crm", 3): "burst", ("crm", 4): "burst", ("crm", 8): "burst", ("search", 2): "search"}
    other = OtherIntegration(harness.hs_app, plan)
    governors = {Side.HUBSPOT: hubspot_governor(), Side.SALESFORCE: salesforce_governor()}
    outcome, calls = sync_under_limits(harness, other, governors)

    assert isinstance(outcome, CycleReport), outcome  # the cycle finished
    run = harness.store.runs.latest(kind="sync")
    assert run is not None and run.status == "succeeded"
    assert other.spent["burst"] > 0 and other.spent["search"] > 0
    # Genuine 429s from both windows, at least one per storm (a call in flight beside the
    # stormed one may meet the same spent window), and none the governor could have avoided.
    assert other.storms["burst"] >= 2 and other.storms["search"] == 1, other.storms
    policies = Counter(policy for _kind, policy in other.refused)
    assert policies["TEN_SECONDLY_ROLLING"] >= other.storms["burst"], other.refused
    assert policies["SECONDLY"] >= other.storms["search"], other.refused
    assert other.unprovoked == []
    assert calls.rate_limited == len(other.refused)
    # Each refused call was sent again only once its window had rolled (one second here).
    assert len(other.waits) == len(other.refused)
    assert all(wait >= WINDOW_S for _policy, wait in other.waits), other.waits
    refused = len(other.refused)
    for _ in range(2):  # the rest of the reference's three cycles, under the same limits
        assert isinstance(sync_under_limits(harness, other, governors)[0], CycleReport)
    assert len(other.refused) == refused  # the governor paced the engine's own calls

    harness.call(Side.HUBSPOT, "PUT", "/__emulator__/limits", ENTERPRISE)
    assert_converged(harness, seed, tmp_path, migrated_store)


def _status(h: Harness, tmp_path: Path) -> str:
    """`hubforce status` over the harness's store (it reads nothing else)."""
    data = h.config.model_dump(mode="json")
    data["connections"]["hubspot"]["token"] = "${HUBSPOT_TOKEN}"
    password = data["connections"]["salesforce"]["password"]
    password["password"] = "${SALESFORCE_PASSWORD}"
    password["security_token"] = "${SALESFORCE_SECURITY_TOKEN}"
    password["client_secret"] = "${SALESFORCE_CLIENT_SECRET}"
    data["alerts"].pop("slack_webhook_url", None)
    path = tmp_path / "hubforce.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    result = CliRunner().invoke(app, ["status", "-c", str(path)], env=EMULATOR_ENV)
    assert result.exit_code == 0, result.output
    return result.output


def test_daily_limit_spent_by_another_integration_mid_cycle_pauses_then_converges(
    harness: Harness, migrated_store: Path, tmp_path: Path
) -> None:
    seed = 131
    workload(harness, seed)
    before = cursors(harness)
    harness.call(
        Side.HUBSPOT,
        "PUT",
        "/__emulator__/limits",
        {"burst": 1_000_000, "daily": 300, "daily_used": 0},
    )
    other = OtherIntegration(harness.hs_app, {("write", 2): "daily"})
    clock = [datetime.now(UTC)]
    governors = {
        Side.HUBSPOT: hubspot_governor(now=lambda: clock[0]),
        Side.SALESFORCE: salesforce_governor(),
    }

    outcome, _calls = sync_under_limits(harness, other, governors)

    # The other integration spent the day between two of the engine's writes: it stops.
    assert isinstance(outcome, RateLimited), outcome
    assert outcome.window == "daily" and outcome.retry_after > 0
    assert other.refused[0] == ("write", "DAILY")
    assert {policy for _kind, policy in other.refused} == {"DAILY"}
    refused = len(other.refused)
    run = harness.store.runs.latest(kind="sync")
    assert run is not None and run.status == "failed" and run.message is not None
    assert "Rate limited by HubSpot (daily)" in run.message
    stopped = run.message.partition(":")[0]
    later = PAIR_ORDER[PAIR_ORDER.index(stopped) :]
    after = cursors(harness)
    assert {k: v for k, v in after.items() if k[0] in later} == {
        k: v for k, v in before.items() if k[0] in later
    }
    shown = re.search(r"Rate limited: next sync at (\d\d:\d\d) UTC", _status(harness, tmp_path))
    assert shown is not None and shown.group(1) in ("23:59", "00:00")  # the UTC midnight reset

    # Until the reset, the governor sends nothing.
    paused, _ = sync_under_limits(harness, other, governors)
    assert isinstance(paused, RateLimited) and paused.window == "budget"
    assert len(other.refused) == refused

    # Midnight UTC: the emulator's day rolls over, and the engine's clock passes it too.
    harness.call(Side.HUBSPOT, "PUT", "/__emulator__/limits", {"daily_used": 0})
    tomorrow = (clock[0] + timedelta(days=1)).replace(hour=0, minute=1, second=0, microsecond=0)
    clock[0] = tomorrow
    for _ in range(3):
        outcome, _calls = sync_under_limits(harness, other, governors)
        assert isinstance(outcome, CycleReport), outcome
    assert len(other.refused) == refused

    harness.call(Side.HUBSPOT, "PUT", "/__emulator__/limits", {**ENTERPRISE, "daily_used": 0})
    assert_converged(harness, seed, tmp_path, migrated_store)
