"""The shared emulator plumbing: clock, limits, faults, stats and the control API."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from hubforce.emulators.common.app import build_emulator_app
from hubforce.emulators.common.clock import EmulatorClock
from hubforce.emulators.common.faults import FaultPlan, FaultRule
from hubforce.emulators.common.limits import DailyAllocation, RollingWindow
from hubforce.emulators.common.serve import BackgroundServer
from hubforce.emulators.common.stats import RequestStats


class ToyBackend:
    def __init__(self) -> None:
        self.clock = EmulatorClock(frozen=True)
        self.stats = RequestStats()
        self.faults = FaultPlan()
        self.items: list[str] = []

    def reset(self) -> None:
        self.items = []

    def seed(self, params: dict[str, Any]) -> dict[str, Any]:
        self.items = [f"item-{i}" for i in range(int(params.get("count", 3)))]
        return {"created": len(self.items)}

    def export_state(self) -> dict[str, Any]:
        return {"items": list(self.items)}

    def import_state(self, state: dict[str, Any]) -> None:
        self.items = list(state["items"])

    def get_limits(self) -> dict[str, Any]:
        return {}

    def set_limits(self, changes: dict[str, Any]) -> dict[str, Any]:
        return changes


def toy_app(backend: ToyBackend) -> Any:
    router = APIRouter()

    @router.get("/items/{n}")
    async def item(n: int) -> dict[str, Any]:
        return {"item": backend.items[n]}

    def render(kind: str) -> Response | None:
        if kind.isdigit():
            return JSONResponse({"fault": kind}, status_code=int(kind))
        return None

    async def server_error(request: Request, exc: Exception) -> Response:
        return JSONResponse({"error": "internal"}, status_code=500)

    return build_emulator_app(
        title="toy",
        backend=backend,
        routers=[router],
        render_fault=render,
        server_error=server_error,
    )


def test_clock_advances_and_refuses_to_go_back() -> None:
    clock = EmulatorClock(frozen=True)
    before = clock.now()
    assert clock.advance(60).timestamp() - before.timestamp() == pytest.approx(60)
    with pytest.raises(ValueError):
        clock.advance(-1)


def test_rolling_window_frees_room_as_time_passes() -> None:
    clock = EmulatorClock(frozen=True)
    window = RollingWindow(clock, limit=2, seconds=10)
    assert window.try_acquire() and window.try_acquire()
    assert not window.try_acquire()
    assert window.retry_after() == pytest.approx(10)
    clock.advance(10.001)
    assert window.try_acquire()


def test_daily_allocation_rolls_over_at_midnight() -> None:
    clock = EmulatorClock(frozen=True)
    daily = DailyAllocation(clock, limit=1)
    assert daily.try_acquire()
    assert not daily.try_acquire()
    clock.advance(86400)
    assert daily.remaining() == 1


def test_fault_sequence_plays_in_order_then_passes() -> None:
    plan = FaultPlan()
    plan.set_rules([FaultRule(route="/items/*", sequence=["503", "ok", "500"])])
    outcomes = [plan.decide("GET", "/items/1")[0] for _ in range(4)]
    assert outcomes == ["503", None, "500", None]


def test_fault_rule_without_an_effect_is_refused() -> None:
    with pytest.raises(ValueError):
        FaultRule(route="/x")


def test_app_counts_routes_injects_faults_and_hides_tracebacks() -> None:
    backend = ToyBackend()
    with BackgroundServer(toy_app(backend)) as server:
        client = httpx.Client(base_url=server.url)
        assert client.post("/__emulator__/seed", json={"count": 2}).json() == {"created": 2}
        assert client.get("/items/1").json() == {"item": "item-1"}
        # An index past the end raises inside the handler: the vendor 500 body, no traceback.
        broken = client.get("/items/9")
        assert broken.status_code == 500 and broken.json() == {"error": "internal"}
        client.post(
            "/__emulator__/faults", json={"rules": [{"route": "/items/*", "sequence": ["503"]}]}
        )
        assert client.get("/items/0").status_code == 503
        assert client.get("/items/0").status_code == 200
        stats = client.get("/__emulator__/stats").json()
        assert stats["by_route"] == {"GET /items/{n}": 4}
        assert stats["by_status"] == {"200": 2, "500": 1, "503": 1}
        assert stats["total"] == 4
        state = client.get("/__emulator__/state").json()
        client.post("/__emulator__/reset")
        assert client.get("/__emulator__/state").json() == {"items": []}
        client.put("/__emulator__/state", json=state)
        assert client.get("/items/1").json() == {"item": "item-1"}


def test_tls_server_is_trusted_through_the_generated_ca(tmp_path: Any) -> None:
    backend = ToyBackend()
    backend.seed({"count": 1})
    with BackgroundServer(toy_app(backend), tls=True, cert_dir=tmp_path / "certs") as server:
        assert server.url.startswith("https://127.0.0.1:")
        assert server.certs is not None
        import ssl

        context = ssl.create_default_context(cafile=str(server.certs.ca_file))
        with httpx.Client(base_url=server.url, verify=context) as client:
            assert client.get("/items/0").json() == {"item": "item-0"}
        with httpx.Client(base_url=server.url) as untrusting, pytest.raises(httpx.ConnectError):
            untrusting.get("/items/0")
