"""SalesforceClient: SOQL reads with paging, sObject Collections writes, describe and limits.

Nothing here retries or sleeps: `ApiSession` (connectors/http.py) does, for every call, and
its governor reads `Sforce-Limit-Info` from every response. Writes return one WriteResult per
input in input order (Collections answer in input order); per-record failures are values.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import httpx

from hubforce.aio import each_chunk
from hubforce.connectors.governor import Governor, salesforce_governor
from hubforce.connectors.http import ApiSession, RetryPolicy, build_http_client
from hubforce.connectors.records import CallCounter, RecordPage, RemoteRecord, WriteResult
from hubforce.connectors.salesforce import errors as sf_errors
from hubforce.connectors.salesforce import soql
from hubforce.connectors.salesforce.auth import SalesforceOAuth
from hubforce.connectors.salesforce.pages import NextRecordsCursor
from hubforce.connectors.salesforce.wire import (
    SYSTEM_FIELDS,
    collection_record,
    parse_datetime,
    record_from_wire,
)
from hubforce.errors import Category, ConnectorError, RecordFailure

COLLECTION_SIZE = 200
QUERY_PAGE_SIZE = 2000
MERGEABLE = frozenset({"Lead", "Contact", "Account"})


class SalesforceClient:
    """Async Salesforce REST client; `async with SalesforceClient(url, auth=...) as sf:`.

    `instance_url` may be omitted with an OAuth grant: the token answer's `instance_url` is
    used. `auto_assign` is the default `Sforce-Auto-Assign` for writes: False (sync writes must
    not reassign owners), True, or an assignment rule id.
    """

    def __init__(
        self,
        instance_url: str | None = None,
        *,
        auth: httpx.Auth,
        api_version: str = "59.0",
        transport: httpx.AsyncBaseTransport | None = None,
        governor: Governor | None = None,
        policy: RetryPolicy | None = None,
        timeout: float = 60.0,
        verify: bool | str = True,
        auto_assign: bool | str = False,
    ) -> None:
        if instance_url is None and not isinstance(auth, SalesforceOAuth):
            raise ValueError("instance_url is required unless auth is an OAuth grant")
        self.auth = auth
        self.api_version = api_version.lstrip("v")
        self.auto_assign = auto_assign
        self._instance_url = instance_url.rstrip("/") if instance_url else None
        http = build_http_client(
            self._instance_url or "http://login.invalid",
            auth=auth,
            transport=transport,
            timeout=timeout,
            verify=verify,
        )
        self.governor = governor if governor is not None else salesforce_governor()
        self.session = ApiSession(
            "salesforce", http, sf_errors.classify, governor=self.governor, policy=policy
        )

    @property
    def calls(self) -> CallCounter:
        """API calls sent so far, by kind."""
        return self.session.calls

    @property
    def data_path(self) -> str:
        """`/services/data/vXX.X`."""
        return f"/services/data/v{self.api_version}"

    async def __aenter__(self) -> SalesforceClient:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def connect(self) -> None:
        """Log in now when the instance URL must come from the token answer."""
        if self._instance_url is None and isinstance(self.auth, SalesforceOAuth):
            self._instance_url = (await self.auth.login(self.session.client)).rstrip("/")
            self.session.client.base_url = httpx.URL(self._instance_url)

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.session.aclose()

    def swap_connection(self, other: SalesforceClient) -> None:
        """Trade HTTP connections (client, instance URL, auth) with `other`, e.g. one built
        from renewed credentials; governor, retry policy and call counts stay. Close `other`
        afterwards to release the connection this client had."""
        self.session.client, other.session.client = other.session.client, self.session.client
        self.auth, other.auth = other.auth, self.auth
        self._instance_url, other._instance_url = other._instance_url, self._instance_url

    def _write_headers(self, auto_assign: bool | str | None) -> dict[str, str]:
        value = self.auto_assign if auto_assign is None else auto_assign
        if isinstance(value, bool):
            return {"Sforce-Auto-Assign": "TRUE" if value else "FALSE"}
        return {"Sforce-Auto-Assign": value}

    async def _json(self, method: str, path: str, *, kind: str, **kw: Any) -> Any:
        if self._instance_url is None:
            await self.connect()
        response = await self.session.request(method, path, kind=kind, **kw)
        if response.status_code == 204 or not response.content:
            return {}
        return response.json()

    # -- reading ---------------------------------------------------------------------------

    async def query(
        self, statement: str, *, include_deleted: bool = False, page_size: int = QUERY_PAGE_SIZE
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Raw record pages of a SOQL query (`/queryAll` with `include_deleted`)."""
        headers = {"Sforce-Query-Options": f"batchSize={page_size}"}
        resource = "queryAll" if include_deleted else "query"
        cursor = NextRecordsCursor()
        body = await self._json(
            "GET",
            f"{self.data_path}/{resource}/",
            kind=resource,
            params={"q": statement},
            headers=headers,
        )
        while True:
            cursor.advance(body)
            records = list(body.get("records") or [])
            if records:
                yield records
            if cursor.finished or cursor.next_url is None:
                return
            body = await self._json("GET", cursor.next_url, kind=resource, headers=headers)

    async def changed_since(
        self,
        sobject: str,
        since_ms: int | None,
        fields: Sequence[str],
        *,
        until_ms: int | None = None,
        where: str | None = None,
        page_size: int = QUERY_PAGE_SIZE,
    ) -> AsyncIterator[RecordPage]:
        """Pages of records with SystemModstamp in [since, until], ordered (SystemModstamp, Id).

        `since_ms` is floored to the second (SOQL literals have no milliseconds), so the
        boundary is re-read; the engine's snapshot comparison makes that harmless.
        """
        conditions = []
        if since_ms is not None:
            conditions.append(f"SystemModstamp >= {soql.datetime_literal(since_ms)}")
        if until_ms is not None:
            conditions.append(f"SystemModstamp <= {soql.datetime_literal(until_ms + 999)}")
        if where:
            conditions.append(f"({where})")
        statement = soql.select(
            sobject,
            [*SYSTEM_FIELDS, *fields],
            where=" AND ".join(conditions) or None,
            order_by=("SystemModstamp ASC", "Id ASC"),
        )
        async for raw in self.query(statement, page_size=page_size):
            yield RecordPage([record_from_wire(obj, sobject) for obj in raw])

    async def deleted_since(
        self, sobject: str, since_ms: int | None, fields: Sequence[str] = ()
    ) -> AsyncIterator[RecordPage]:
        """Recycle-bin records (queryAll, IsDeleted) changed since `since_ms`, with
        `MasterRecordId` on mergeable objects so that merges are told from deletes."""
        extra = ["IsDeleted", *(["MasterRecordId"] if sobject in MERGEABLE else [])]
        conditions = ["IsDeleted = true"]
        if since_ms is not None:
            conditions.append(f"SystemModstamp >= {soql.datetime_literal(since_ms)}")
        statement = soql.select(
            sobject,
            [*SYSTEM_FIELDS, *extra, *fields],
            where=" AND ".join(conditions),
            order_by=("SystemModstamp ASC", "Id ASC"),
        )
        async for raw in self.query(statement, include_deleted=True):
            yield RecordPage([record_from_wire(obj, sobject) for obj in raw])

    async def read(
        self, sobject: str, ids: Sequence[str], fields: Sequence[str]
    ) -> dict[str, RemoteRecord]:
        """Records by id (SOQL `Id IN`, a few hundred per call), keyed by the requested id."""
        wanted = list(dict.fromkeys(ids))
        out: dict[str, RemoteRecord] = {}
        for record in await self.find_by(sobject, "Id", wanted, fields):
            for key in (record.id, record.id[:15]):
                if key in wanted:
                    out[key] = record
        return out

    async def find_by(
        self,
        sobject: str,
        field: str,
        values: Sequence[Any],
        fields: Sequence[str],
        *,
        where: str | None = None,
    ) -> list[RemoteRecord]:
        """Records whose `field` is one of `values`: one query per chunk of keys (IN)."""
        keys = list(dict.fromkeys(v for v in values if v not in (None, "")))
        chunks = list(soql.chunk_values(keys))

        async def query_chunk(start: int, end: int) -> list[RemoteRecord]:
            rows: list[RemoteRecord] = []
            for chunk in chunks[start:end]:
                condition = soql.in_clause(field, chunk)
                if where:
                    condition = f"{condition} AND ({where})"
                columns = [*SYSTEM_FIELDS, field, *fields]
                statement = soql.select(sobject, columns, where=condition)
                async for raw in self.query(statement):
                    rows += [record_from_wire(obj, sobject) for obj in raw]
            return rows

        found = {record.id: record for record in await each_chunk(len(chunks), 1, query_chunk)}
        return sorted(found.values(), key=lambda r: r.id)

    async def get_updated(
        self, sobject: str, start_ms: int, end_ms: int
    ) -> tuple[list[str], int | None]:
        """Ids updated in [start, end] (`/sobjects/{T}/updated/`) and `latestDateCovered`."""
        body = await self._json(
            "GET",
            f"{self.data_path}/sobjects/{soql.identifier(sobject)}/updated/",
            kind="updated",
            params={"start": _iso(start_ms), "end": _iso(end_ms)},
        )
        return [str(i) for i in body.get("ids") or ()], parse_datetime(
            body.get("latestDateCovered")
        )

    async def get_deleted(
        self, sobject: str, start_ms: int, end_ms: int
    ) -> tuple[list[tuple[str, int]], int | None]:
        """(id, deletedDate ms) deleted in [start, end] and `latestDateCovered`."""
        body = await self._json(
            "GET",
            f"{self.data_path}/sobjects/{soql.identifier(sobject)}/deleted/",
            kind="deleted",
            params={"start": _iso(start_ms), "end": _iso(end_ms)},
        )
        rows = [
            (str(r["id"]), parse_datetime(r.get("deletedDate")) or 0)
            for r in body.get("deletedRecords") or ()
        ]
        return rows, parse_datetime(body.get("latestDateCovered"))

    # -- writing (sObject Collections, allOrNone=false) ------------------------------------

    async def create(
        self,
        sobject: str,
        records: Sequence[Mapping[str, Any]],
        *,
        auto_assign: bool | str | None = None,
    ) -> list[WriteResult]:
        """Create records, 200 per call; a failed record never fails the others."""
        bodies = [collection_record(sobject, values) for values in records]
        return await self._collections(
            "POST",
            f"{self.data_path}/composite/sobjects",
            bodies,
            [None] * len(bodies),
            kind="collections_create",
            idempotent=False,
            auto_assign=auto_assign,
            created=True,
        )

    async def update(
        self,
        sobject: str,
        updates: Sequence[tuple[str, Mapping[str, Any]]],
        *,
        auto_assign: bool | str | None = None,
    ) -> list[WriteResult]:
        """Update [(id, values)], 200 per call; None clears a field."""
        bodies = [collection_record(sobject, values, rid) for rid, values in updates]
        return await self._collections(
            "PATCH",
            f"{self.data_path}/composite/sobjects",
            bodies,
            [rid for rid, _ in updates],
            kind="collections_update",
            idempotent=True,
            auto_assign=auto_assign,
        )

    async def upsert(
        self,
        sobject: str,
        external_id_field: str,
        records: Sequence[Mapping[str, Any]],
        *,
        auto_assign: bool | str | None = None,
    ) -> list[WriteResult]:
        """Upsert by an external-id field (each record carries its value), 200 per call."""
        bodies = [collection_record(sobject, values) for values in records]
        path = (
            f"{self.data_path}/composite/sobjects/{soql.identifier(sobject)}/"
            f"{soql.identifier(external_id_field)}"
        )
        return await self._collections(
            "PATCH",
            path,
            bodies,
            [None] * len(bodies),
            kind="collections_upsert",
            idempotent=True,
            auto_assign=auto_assign,
        )

    async def delete(self, ids: Sequence[str]) -> list[WriteResult]:
        """Delete by id (to the recycle bin), 200 per call."""

        async def delete_chunk(start: int, end: int) -> list[WriteResult]:
            chunk = list(ids[start:end])
            try:
                answer = await self._json(
                    "DELETE",
                    f"{self.data_path}/composite/sobjects",
                    kind="collections_delete",
                    params={"ids": ",".join(chunk), "allOrNone": "false"},
                )
            except ConnectorError as exc:
                return _refused(exc, start, chunk)
            return map_collection_results(answer, start, chunk)

        return await each_chunk(len(ids), COLLECTION_SIZE, delete_chunk)

    async def _collections(
        self,
        method: str,
        path: str,
        bodies: list[dict[str, Any]],
        ids: list[str | None],
        *,
        kind: str,
        idempotent: bool,
        auto_assign: bool | str | None,
        created: bool = False,
    ) -> list[WriteResult]:
        headers = self._write_headers(auto_assign)

        async def send_chunk(start: int, end: int) -> list[WriteResult]:
            chunk_ids = ids[start:end]
            try:
                answer = await self._json(
                    method,
                    path,
                    kind=kind,
                    headers=headers,
                    idempotent=idempotent,
                    json={"allOrNone": False, "records": bodies[start:end]},
                )
            except ConnectorError as exc:
                return _refused(exc, start, chunk_ids)
            return map_collection_results(answer, start, chunk_ids, created=created)

        return await each_chunk(len(bodies), COLLECTION_SIZE, send_chunk)

    # -- schema and limits -----------------------------------------------------------------

    async def describe(self, sobject: str) -> dict[str, Any]:
        """`GET /sobjects/{T}/describe` (fields, types, picklists, createable...)."""
        path = f"{self.data_path}/sobjects/{soql.identifier(sobject)}/describe"
        return dict(await self._json("GET", path, kind="describe"))

    async def describe_global(self) -> dict[str, Any]:
        """`GET /sobjects/`: every object the user can see."""
        return dict(await self._json("GET", f"{self.data_path}/sobjects/", kind="describe"))

    async def limits(self) -> dict[str, Any]:
        """`GET /limits/`: DailyApiRequests and friends, as `{name: {Max, Remaining}}`."""
        return dict(await self._json("GET", f"{self.data_path}/limits/", kind="limits"))


def map_collection_results(
    answer: Any, start: int, ids: Sequence[str | None], *, created: bool = False
) -> list[WriteResult]:
    """A Collections answer (one result per input, in order) -> WriteResults."""
    rows = answer if isinstance(answer, list) else []
    out: list[WriteResult] = []
    for i, rid in enumerate(ids):
        row = rows[i] if i < len(rows) and isinstance(rows[i], dict) else None
        if row is None:
            failure = RecordFailure.of(
                Category.UNKNOWN, "NO_RESULT", "Salesforce returned no result for this record"
            )
            out.append(WriteResult(start + i, False, rid, failure=failure))
        elif row.get("success"):
            was_created = bool(row.get("created", created))
            out.append(WriteResult(start + i, True, str(row.get("id") or rid), created=was_created))
        else:
            errors = [e for e in row.get("errors") or () if isinstance(e, dict)] or [{}]
            failure = sf_errors.record_failure(errors[0])
            out.append(WriteResult(start + i, False, row.get("id") or rid, failure=failure))
    return out


def _refused(exc: ConnectorError, start: int, ids: Sequence[str | None]) -> list[WriteResult]:
    """A whole call refused with a 4xx: every input fails with its reason; others re-raise."""
    if exc.retryable or exc.category is Category.AUTHENTICATION:
        raise exc
    failure = RecordFailure.of(exc.category, exc.api_code, exc.api_message)
    return [WriteResult(start + i, False, rid, failure=failure) for i, rid in enumerate(ids)]


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms // 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")
