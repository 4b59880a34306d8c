"""A tiny in-memory stand-in for HubSpot's search and batch endpoints (test double only)."""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass, field
from typing import Any

import httpx

from hubforce.connectors.hubspot.wire import format_timestamp


@dataclass
class FakeHubSpot:
    """Contacts keyed by id with a modification time; search honours the 10,000 cap."""

    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)
    search_calls: int = 0
    version: int = 0
    _order: tuple[int, list[tuple[int, int, str]]] = (-1, [])

    def add(self, rid: str, ts: int, **props: str) -> None:
        """Create or replace a record (records must only change through here)."""
        self.records[rid] = {"ts": ts, "props": {"email": f"{rid}@x.test", **props}}
        self.version += 1

    def order(self) -> list[tuple[int, int, str]]:
        """(ts, -id, id) sorted: ties in time in an order unrelated to id, as an index may do."""
        if self._order[0] != self.version:
            ranked = sorted((rec["ts"], -int(rid), rid) for rid, rec in self.records.items())
            self._order = (self.version, ranked)
        return self._order[1]

    def wire(self, rid: str) -> dict[str, Any]:
        rec = self.records[rid]
        stamp = format_timestamp(rec["ts"])
        props = {**rec["props"], "hs_object_id": rid, "lastmodifieddate": stamp}
        return {
            "id": rid,
            "properties": props,
            "createdAt": stamp,
            "updatedAt": stamp,
            "archived": False,
        }

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        if request.url.path.endswith("/search"):
            return self.search(json.loads(request.content))
        return httpx.Response(
            404, json={"status": "error", "category": "OBJECT_NOT_FOUND", "message": "?"}
        )

    def search(self, body: dict[str, Any]) -> httpx.Response:
        self.search_calls += 1
        limit, after = int(body.get("limit", 10)), int(body.get("after", "0") or 0)
        if after + limit > 10_000:
            return httpx.Response(
                400,
                json={
                    "status": "error",
                    "category": "VALIDATION_ERROR",
                    "message": "paging past 10,000 results",
                    "correlationId": "x",
                },
            )
        order = self.order()
        low, high = 0, len(order)
        filters = [f for g in body.get("filterGroups") or [] for f in g["filters"]]
        for f in filters:
            if f["propertyName"] == "lastmodifieddate" and f["operator"] == "GTE":
                low = max(low, bisect.bisect_left(order, (int(f["value"]),)))
            elif f["propertyName"] == "lastmodifieddate" and f["operator"] == "LTE":
                high = min(high, bisect.bisect_left(order, (int(f["value"]) + 1,)))
        hits = [rid for _, _, rid in order[low:high]]
        for f in filters:
            if f["propertyName"] != "lastmodifieddate":
                hits = [rid for rid in hits if self.matches(rid, f)]
        page = hits[after : after + limit]
        out: dict[str, Any] = {"total": len(hits), "results": [self.wire(rid) for rid in page]}
        if after + limit < len(hits):
            out["paging"] = {"next": {"after": str(after + limit)}}
        return httpx.Response(200, json=out)

    def matches(self, rid: str, f: dict[str, Any]) -> bool:
        rec = self.records[rid]
        if f["propertyName"] == "lastmodifieddate":
            value = int(f["value"])
            return rec["ts"] >= value if f["operator"] == "GTE" else rec["ts"] <= value
        prop = str(rec["props"].get(f["propertyName"], "")).lower()
        return prop in f["values"] if f["operator"] == "IN" else prop == f["value"]
