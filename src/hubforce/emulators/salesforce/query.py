"""SOQL query endpoints: `query`, `queryAll` and their `nextRecordsUrl` pages.

Session, version, limits and trailing slashes are handled by the guard in front of every
`/services/data/` route. Result pages are cut from a snapshot of the matching rows kept under a
locator (`01g...`), as the real API keeps a server-side cursor; locators expire after 15 minutes
of emulator-clock inactivity and the oldest are dropped past a cap, giving INVALID_QUERY_LOCATOR.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from hubforce.emulators.salesforce.exceptions import InvalidQueryLocator
from hubforce.emulators.salesforce.ids import make_id
from hubforce.emulators.salesforce.models import Org
from hubforce.emulators.salesforce.query_engine import compile_for_org, run_for_org
from hubforce.emulators.salesforce.soql import CompiledQuery, Row

DEFAULT_BATCH, MIN_BATCH, MAX_BATCH = 2000, 200, 2000
CURSOR_IDLE = timedelta(minutes=15)
MAX_CURSORS = 200
_BATCH_RE = re.compile(r"batchSize\s*=\s*(\d+)", re.IGNORECASE)
_LOCATOR_RE = re.compile(r"^(01g[0-9A-Za-z]{15})-(\d+)$")


@dataclass
class Cursor:
    """The rest of one query's result, waiting to be fetched page by page."""

    compiled: CompiledQuery
    rows: list[Row]
    batch: int
    touched: datetime


class QueryCursors:
    """Open query locators of one app, oldest first."""

    def __init__(self, records: object, counter: int = 0) -> None:
        self.records = records  # the org tables these cursors read
        self._open: OrderedDict[str, Cursor] = OrderedDict()
        self.counter = counter  # carried over a reset, so ids are never reused

    def open(self, cursor: Cursor) -> str:
        """Keep `cursor` and return its locator."""
        self.counter += 1
        locator = make_id("01g", self.counter)
        self._open[locator] = cursor
        while len(self._open) > MAX_CURSORS:
            self._open.popitem(last=False)
        return locator

    def take(self, locator: str, now: datetime) -> Cursor:
        """The live cursor for `locator`; INVALID_QUERY_LOCATOR if unknown or expired."""
        cursor = self._open.get(locator)
        if cursor is None or now - cursor.touched > CURSOR_IDLE:
            self._open.pop(locator, None)
            raise InvalidQueryLocator("invalid query locator")
        cursor.touched = now
        return cursor

    def close(self, locator: str) -> None:
        """Forget a cursor whose last page was served."""
        self._open.pop(locator, None)


def _org(request: Request) -> Org:
    org: Org = request.app.state.backend
    return org


def _cursors(request: Request) -> QueryCursors:
    cursors: QueryCursors | None = getattr(request.app.state, "query_cursors", None)
    records = _org(request).records
    if cursors is None or cursors.records is not records:
        # A reset or state import replaces the org's tables: earlier locators die with them.
        cursors = QueryCursors(records, cursors.counter if cursors else 0)
        request.app.state.query_cursors = cursors
    return cursors


def _batch_size(request: Request, default: int = DEFAULT_BATCH) -> int:
    match = _BATCH_RE.search(request.headers.get("sforce-query-options", ""))
    if not match:
        return default
    # The API treats batchSize as a hint and keeps it within 200..2000.
    return min(MAX_BATCH, max(MIN_BATCH, int(match.group(1))))


def _page(
    request: Request, cursor: Cursor, locator: str | None, start: int, version: str
) -> dict[str, Any]:
    total = len(cursor.rows)
    if cursor.compiled.count:
        return {"totalSize": total, "done": True, "records": []}
    end = min(total, start + cursor.batch)
    body: dict[str, Any] = {"totalSize": total, "done": end >= total}
    if end < total:
        if locator is None:
            locator = _cursors(request).open(cursor)
        body["nextRecordsUrl"] = f"/services/data/v{version}/query/{locator}-{end}"
    elif locator is not None:
        _cursors(request).close(locator)
    body["records"] = [cursor.compiled.render(r, version) for r in cursor.rows[start:end]]
    return body


def _run(request: Request, version: str, *, include_deleted: bool) -> JSONResponse:
    org = _org(request)
    compiled = compile_for_org(org, request.query_params.get("q", ""))
    rows = run_for_org(org, compiled, include_deleted=include_deleted)
    cursor = Cursor(compiled, rows, _batch_size(request), org.moment())
    return JSONResponse(_page(request, cursor, None, 0, version))


async def query(request: Request, version: str) -> JSONResponse:
    """GET /query?q=: live rows only."""
    return _run(request, version, include_deleted=False)


async def query_all(request: Request, version: str) -> JSONResponse:
    """GET /queryAll?q=: deleted and merged rows too."""
    return _run(request, version, include_deleted=True)


async def query_more(request: Request, version: str, locator: str) -> JSONResponse:
    """GET /query/{locator}-{offset} (and /queryAll/...): the next page of an open query."""
    match = _LOCATOR_RE.match(locator)
    if match is None:
        raise InvalidQueryLocator("invalid query locator")
    key, start = match.group(1), int(match.group(2))
    cursor = _cursors(request).take(key, _org(request).moment())
    if not 0 < start < len(cursor.rows):
        raise InvalidQueryLocator("invalid query locator")
    cursor.batch = _batch_size(request, cursor.batch)
    return JSONResponse(_page(request, cursor, key, start, version))


def build_query_router() -> APIRouter:
    """Return the router serving /query and /queryAll."""
    router = APIRouter()
    base = "/services/data/v{version}"
    router.add_api_route(base + "/query", query, methods=["GET"])
    router.add_api_route(base + "/queryAll", query_all, methods=["GET"])
    router.add_api_route(base + "/query/{locator}", query_more, methods=["GET"])
    router.add_api_route(base + "/queryAll/{locator}", query_more, methods=["GET"])
    return router
