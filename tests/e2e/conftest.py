"""End-to-end harness: both emulators in process, the engine reaching them over httpx.

`harness` (function scope) gives a `Harness`: the HubSpot and Salesforce emulator apps reached
through `httpx.ASGITransport` (no sockets), a fresh SQLite store in tmp_path, one event loop
for the whole test, and helpers to seed, edit records through the vendors' APIs, run cycles and
count API calls from `/__emulator__/stats`.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable, Coroutine, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from hubforce.alerts.digest import AlertKind, Digest
from hubforce.config import HubforceConfig
from hubforce.connectors.governor import hubspot_governor
from hubforce.connectors.http import RetryPolicy
from hubforce.emulators.hubspot.app import create_app as create_hubspot_app
from hubforce.emulators.hubspot.settings import HubSpotEmulatorSettings
from hubforce.emulators.salesforce.app import create_app as create_salesforce_app
from hubforce.engine.context import CycleOptions, CycleReport
from hubforce.engine.cycle import run_cycle
from hubforce.engine.local import local_config
from hubforce.engine.runner import sync_context
from hubforce.store import Store, open_store
from hubforce.sync.model import Side

T = TypeVar("T")
HS_URL = "http://hubspot.emulator"
SF_URL = "http://salesforce.emulator"
TOKEN = {"Authorization": "Bearer emulator-token"}
V = "/services/data/v62.0"

_READ_SUFFIXES = ("/search", "/batch/read", "/query", "/queryAll", "/describe")


async def _no_sleep(_seconds: float) -> None:
    return None


async def until(what: str, check: Callable[[], bool], deadline_s: float = 10.0) -> None:
    """Poll `check` on the running loop until it holds; fail naming `what` past the deadline."""
    deadline = time.monotonic() + deadline_s
    while not check():
        assert time.monotonic() < deadline, f"{what}: not within {deadline_s} s"
        await asyncio.sleep(0.005)


class Recorder:
    """A Slack notifier stand-in that keeps every digest it is given."""

    def __init__(self) -> None:
        self.sent: list[Digest] = []

    def send(self, digest: Digest) -> bool:
        self.sent.append(digest)
        return True

    def kinds(self) -> list[list[AlertKind]]:
        return [[alert.kind for alert in digest.alerts] for digest in self.sent]


def write_calls(stats: dict[str, Any]) -> int:
    """API calls in an emulator stats snapshot that write (not GET, search or batch read)."""
    total = 0
    for route, count in stats["by_route"].items():
        method, _, path = route.partition(" ")
        if method == "GET" or path.rstrip("/").endswith(_READ_SUFFIXES):
            continue
        if "oauth" in path or "/__emulator__" in path:
            continue
        total += count
    return total


class Harness:
    """Two emulators, a store and the engine, on one event loop."""

    def __init__(
        self, tmp_path: Path, store: Store | None = None, template: Path | None = None
    ) -> None:
        self.loop = asyncio.Runner()
        self.hs_app = create_hubspot_app(
            HubSpotEmulatorSettings(tier="enterprise", search_per_second=10_000)
        )
        self.sf_app = create_salesforce_app()
        self.transports: dict[Side, httpx.AsyncBaseTransport] = {
            Side.HUBSPOT: httpx.ASGITransport(app=self.hs_app),
            Side.SALESFORCE: httpx.ASGITransport(app=self.sf_app),
        }
        self.store_url = f"sqlite:///{tmp_path / 'state.db'}"
        if store is None and template is not None:
            shutil.copyfile(template, tmp_path / "state.db")  # migrated once per session
        self.store: Store = store or open_store(self.store_url)
        self.edit: Callable[[dict[str, Any]], None] | None = None
        self.config: HubforceConfig = local_config(HS_URL, SF_URL, self.store_url)

    def configure(self, edit: Callable[[dict[str, Any]], None]) -> None:
        """Change the configuration (the parsed default YAML) for the next cycles."""
        self.config = local_config(HS_URL, SF_URL, self.store_url, edit=edit)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the harness's loop."""
        return self.loop.run(coro)

    def close(self) -> None:
        """Release the loop and the store."""
        self.loop.close()
        self.store.close()

    # -- the engine ----------------------------------------------------------------------

    def sync(self, **options: Any) -> CycleReport:
        """One cycle with the current config."""
        return self.run(self._sync(CycleOptions(**options)))

    async def _sync(self, options: CycleOptions) -> CycleReport:
        async with sync_context(
            self.config,
            options=options,
            store=self.store,
            transports=self.transports,
            policy=RetryPolicy(sleep=_no_sleep),
            governors={Side.HUBSPOT: hubspot_governor(burst=100_000, search_per_second=100_000)},
        ) as ctx:
            return await run_cycle(ctx)

    # -- the vendors' APIs -----------------------------------------------------------------

    def call(self, side: Side, method: str, path: str, json: Any = None, **kw: Any) -> Any:
        """One HTTP call to an emulator; returns the JSON body (None when empty)."""
        return self.run(self._call(side, method, path, json, **kw))

    async def _call(self, side: Side, method: str, path: str, json: Any, **kw: Any) -> Any:
        base = HS_URL if side is Side.HUBSPOT else SF_URL
        async with httpx.AsyncClient(
            transport=self.transports[side], base_url=base, headers=TOKEN
        ) as client:
            response = await client.request(method, path, json=json, **kw)
        assert response.status_code < 400, (method, path, response.status_code, response.text)
        return response.json() if response.content else None

    def seed(self, seed: int = 7, **counts: int) -> None:
        """Seed both emulators from the same world."""
        body = {"seed": seed, **counts}
        # Salesforce dates its world from a moment taken before either call, so its seeded
        # stamps sit at the same distance below HubSpot's in every run, however long the calls.
        now = datetime.now(UTC).isoformat()
        self.call(Side.HUBSPOT, "POST", "/__emulator__/seed", body)
        self.call(Side.SALESFORCE, "POST", "/__emulator__/seed", {**body, "now": now})

    def soql(self, statement: str) -> list[dict[str, Any]]:
        """Every record of a SOQL query."""
        body = self.call(Side.SALESFORCE, "GET", f"{V}/query", params={"q": statement})
        records: list[dict[str, Any]] = body["records"]
        while not body.get("done", True):
            body = self.call(Side.SALESFORCE, "GET", body["nextRecordsUrl"])
            records += body["records"]
        return records

    def hs_all(self, object_type: str, properties: str) -> list[dict[str, Any]]:
        """Every HubSpot record of a type (list API)."""
        out: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            params = {"limit": 100, "properties": properties}
            if after:
                params["after"] = after
            body = self.call(Side.HUBSPOT, "GET", f"/crm/v3/objects/{object_type}", params=params)
            out += body["results"]
            after = ((body.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return out

    def hs_patch(self, object_type: str, record_id: str, properties: dict[str, str]) -> None:
        """Edit a HubSpot record as a user would."""
        self.call(
            Side.HUBSPOT,
            "PATCH",
            f"/crm/v3/objects/{object_type}/{record_id}",
            {"properties": properties},
        )

    def sf_patch(self, sobject: str, record_id: str, values: dict[str, Any]) -> None:
        """Edit a Salesforce record as a user would."""
        self.call(Side.SALESFORCE, "PATCH", f"{V}/sobjects/{sobject}/{record_id}", values)

    def stats(self, side: Side) -> dict[str, Any]:
        """The emulator's call counts."""
        result: dict[str, Any] = self.call(side, "GET", "/__emulator__/stats")
        return result

    def reset_stats(self) -> None:
        """Zero both emulators' call counts."""
        for side in Side:
            self.call(side, "POST", "/__emulator__/stats/reset")

    def writes(self) -> dict[Side, int]:
        """Write calls per side since the last `reset_stats`."""
        return {side: write_calls(self.stats(side)) for side in Side}

    def link(self, pair: str, side: Side, record_id: str) -> Any:
        """The stored link of one record, or None."""
        return self.store.links.get(pair, str(side), record_id)


@pytest.fixture(scope="session")
def migrated_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty, migrated SQLite store file that each test copies."""
    path = tmp_path_factory.mktemp("template") / "state.db"
    open_store(f"sqlite:///{path}").close()
    return path


@pytest.fixture
def harness(tmp_path: Path, migrated_store: Path) -> Iterator[Harness]:
    """A fresh pair of emulators, store and event loop."""
    h = Harness(tmp_path, template=migrated_store)
    try:
        yield h
    finally:
        h.close()
