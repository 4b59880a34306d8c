"""In-memory HubSpot and Salesforce clients for cycle tests: pages, reads and writes, with gates.

Only what a cycle of the contacts pair calls is here. A test can hold a call until another one
happened (`asyncio.Event`s), count what was called, and make a call fail, so the order of
reads and writes inside a cycle is observable without sleeping.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any, cast

from hubforce.connectors.hubspot.client import HubSpotClient
from hubforce.connectors.records import CallCounter, RecordPage, RemoteRecord, WriteResult
from hubforce.connectors.salesforce.client import SalesforceClient
from hubforce.connectors.salesforce.wire import format_datetime, record_from_wire
from hubforce.engine.context import CycleOptions, SyncContext
from hubforce.engine.local import local_config
from hubforce.engine.runner import compile_mappings
from hubforce.store import Store, open_store
from hubforce.sync.model import Link, Snapshot

T0 = 1_700_000_000_000
NOW = T0 + 3_600_000  # the cycles' clock: after every record's modification time
WAIT_S = 5.0  # a gate that never opens fails the test after this long, never hangs it


def hs_id(n: int) -> str:
    """HubSpot id of linked pair `n`."""
    return str(1000 + n)


def sf_id(n: int) -> str:
    """Salesforce Lead id of linked pair `n`."""
    return f"00Q{n:012d}AAA"


class FakeHubSpot:
    """Contacts changed since the cursor, served `page_size` per search; batch writes."""

    def __init__(self, titles: dict[int, str], *, page_size: int = 100) -> None:
        self.records = [
            RemoteRecord(hs_id(n), {"jobtitle": title}, T0 + n, "contacts")
            for n, title in sorted(titles.items())
        ]
        self.page_size = page_size
        self.calls = CallCounter()
        self.pages_served = 0
        self.served: defaultdict[int, asyncio.Event] = defaultdict(asyncio.Event)  # page n out
        self.read_ids: list[str] = []
        self.updated: list[tuple[str, dict[str, Any]]] = []
        self.before_page: Callable[[int], Any] | None = None  # awaited before page n (1-based)

    async def changed_since(
        self, object_type: str, since: int | None, fields: Sequence[str], **_: Any
    ) -> AsyncIterator[RecordPage]:
        for start in range(0, len(self.records), self.page_size):
            self.calls.count("search")
            if self.before_page is not None:
                await self.before_page(self.pages_served + 1)
            page = self.records[start : start + self.page_size]
            self.pages_served += 1
            self.served[self.pages_served].set()
            yield RecordPage(
                [RemoteRecord(r.id, dict(r.values), r.modified_at, r.object_type) for r in page]
            )

    async def deleted_since(self, *_: Any, **__: Any) -> AsyncIterator[RecordPage]:
        return
        yield  # an async generator with no page

    async def read(
        self, object_type: str, ids: Sequence[str], properties: Sequence[str], **_: Any
    ) -> dict[str, RemoteRecord]:
        self.calls.count("batch_read")
        self.read_ids += ids
        by_id = {r.id: r for r in self.records}
        return {i: by_id[i] for i in ids if i in by_id}

    async def find_by(self, *_: Any, **__: Any) -> list[RemoteRecord]:
        self.calls.count("find_by")
        return []

    async def read_associations(self, *_: Any, **__: Any) -> dict[str, list[Any]]:
        self.calls.count("associations_read")
        return {}

    async def update(
        self, object_type: str, updates: Sequence[tuple[str, dict[str, Any]]]
    ) -> list[WriteResult]:
        self.calls.count("batch_update")
        self.updated += updates
        return [WriteResult(i, True, rid) for i, (rid, _) in enumerate(updates)]

    async def aclose(self) -> None:
        return None


class FakeSalesforce:
    """Leads changed since the cursor (one queryAll page), reads by id, Collections updates."""

    def __init__(self, titles: dict[int, str] | None = None, *, page_size: int = 2000) -> None:
        self.page_size = page_size
        self.rows = [
            {
                "attributes": {"type": "Lead"},
                "Id": sf_id(n),
                "SystemModstamp": format_datetime(T0 + n * 1000),
                "LastModifiedDate": format_datetime(T0 + n * 1000),
                "IsDeleted": False,
                "Title": title,
            }
            for n, title in sorted((titles or {}).items())
        ]
        self.calls = CallCounter()
        self.queried = asyncio.Event()  # set when a query was called
        self.before_query: Callable[[], Any] | None = None
        self.before_update: Callable[[int], Any] | None = None  # awaited before update call n
        self.updated: list[tuple[str, dict[str, Any]]] = []
        self.read_ids: list[str] = []

    async def query(self, statement: str, **_: Any) -> AsyncIterator[list[dict[str, Any]]]:
        self.calls.count("queryAll")
        self.queried.set()
        if self.before_query is not None:
            await self.before_query()
        if " FROM Lead " in statement:
            for start in range(0, len(self.rows), self.page_size):
                yield [dict(row) for row in self.rows[start : start + self.page_size]]

    async def read(
        self, sobject: str, ids: Sequence[str], fields: Sequence[str]
    ) -> dict[str, RemoteRecord]:
        self.calls.count("query")
        self.read_ids += ids
        rows = {row["Id"]: row for row in self.rows}
        # A Lead absent from the change stream still holds the snapshot's title.
        unchanged = {"SystemModstamp": format_datetime(T0), "Title": "old"}
        return {i: record_from_wire(rows.get(i) or {"Id": i, **unchanged}, sobject) for i in ids}

    async def find_by(self, *_: Any, **__: Any) -> list[RemoteRecord]:
        self.calls.count("find_by")
        return []

    async def update(
        self, sobject: str, updates: Sequence[tuple[str, dict[str, Any]]], **_: Any
    ) -> list[WriteResult]:
        self.calls.count("collections_update")
        if self.before_update is not None:
            await self.before_update(self.calls.by_kind["collections_update"])
        self.updated += updates
        return [WriteResult(i, True, rid) for i, (rid, _) in enumerate(updates)]

    async def aclose(self) -> None:
        return None


def linked_store(tmp_path: Path, pairs: range) -> Store:
    """A store whose contacts pair links HubSpot contact n to Lead n, both titled "old"."""
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    snapshot = Snapshot(hubspot={"jobtitle": "old"}, salesforce={"jobtitle": "old"})
    store.links.upsert_many([Link("contacts", hs_id(n), "Lead", sf_id(n), snapshot) for n in pairs])
    return store


def context(
    store: Store, hubspot: FakeHubSpot, salesforce: FakeSalesforce, **options: Any
) -> SyncContext:
    """A cycle context of the default contacts mapping over the fakes."""
    config = local_config("http://hubspot.fake", "http://salesforce.fake", "sqlite://")
    return SyncContext(
        hubspot=cast(HubSpotClient, hubspot),
        salesforce=cast(SalesforceClient, salesforce),
        store=store,
        mappings=compile_mappings(config),
        options=CycleOptions(pairs=("contacts",), clock=lambda: NOW, **options),
    )


async def gate(event: asyncio.Event) -> None:
    """Wait for `event`; fail (never hang) when it does not come."""
    await asyncio.wait_for(event.wait(), WAIT_S)
