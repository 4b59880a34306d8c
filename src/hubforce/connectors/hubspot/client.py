"""HubSpotClient: the CRM v3/v4 calls a two-way sync needs, batched, paged and typed.

Nothing here retries or sleeps: `ApiSession` (connectors/http.py) does, for every call.
Writes return one WriteResult per input, in input order; per-record failures are values.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from types import TracebackType
from typing import Any

import httpx

from hubforce.aio import each_chunk
from hubforce.connectors.governor import Governor, hubspot_governor
from hubforce.connectors.http import ApiSession, RetryPolicy, build_http_client
from hubforce.connectors.hubspot import errors as hs_errors
from hubforce.connectors.hubspot.pages import AfterCursor, SearchWindow
from hubforce.connectors.hubspot.results import chunks, failed_association_ids, map_batch_results
from hubforce.connectors.hubspot.wire import (
    ASSOCIATION_TYPES,
    association_specs,
    merged_ids,
    modified_property,
    object_type_name,
    parse_timestamp,
    property_list,
    record_from_wire,
    stringify,
)
from hubforce.connectors.records import (
    AssociationLink,
    CallCounter,
    RecordPage,
    RemoteRecord,
    WriteResult,
)
from hubforce.errors import Category, ConnectorError, RecordFailure

BATCH_SIZE = 100
HISTORY_BATCH_SIZE = 50
SEARCH_PAGE_SIZE = 200
SEARCH_IN_MAX = 100
LIST_PAGE_SIZE = 100


class HubSpotClient:
    """Async HubSpot CRM client; use as `async with HubSpotClient(base_url, auth=...) as hs:`."""

    def __init__(
        self,
        base_url: str = "https://api.hubapi.com",
        *,
        auth: httpx.Auth,
        transport: httpx.AsyncBaseTransport | None = None,
        governor: Governor | None = None,
        policy: RetryPolicy | None = None,
        timeout: float = 30.0,
        verify: bool | str = True,
    ) -> None:
        http = build_http_client(
            base_url.rstrip("/"), auth=auth, transport=transport, timeout=timeout, verify=verify
        )
        self.governor = governor if governor is not None else hubspot_governor()
        self.session = ApiSession(
            "hubspot", http, hs_errors.classify, governor=self.governor, policy=policy
        )

    @property
    def calls(self) -> CallCounter:
        """API calls sent so far, by kind."""
        return self.session.calls

    async def __aenter__(self) -> HubSpotClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.session.aclose()

    def swap_connection(self, other: HubSpotClient) -> None:
        """Trade HTTP connections (client, base URL, auth) with `other`, e.g. one built from
        renewed credentials; governor, retry policy and call counts stay. Close `other`
        afterwards to release the connection this client had."""
        self.session.client, other.session.client = other.session.client, self.session.client

    async def _json(self, method: str, url: str, *, kind: str, **kw: Any) -> Any:
        response = await self.session.request(method, url, kind=kind, **kw)
        if response.status_code == 204 or not response.content:
            return {}
        return response.json()

    # -- reading ---------------------------------------------------------------------------

    async def changed_since(
        self,
        object_type: str,
        since_ms: int | None,
        properties: Sequence[str],
        *,
        until_ms: int | None = None,
        page_size: int = SEARCH_PAGE_SIZE,
    ) -> AsyncIterator[RecordPage]:
        """Pages of records modified in [since_ms, until_ms], ascending by (modified, id).

        Uses the search API sorted by the last-modified property, moving the window past the
        10,000-result cap. Pass `until_ms` (the run's start) so offsets cannot shift mid-read.
        """
        name = object_type_name(object_type)
        modified = modified_property(name)
        window = SearchWindow(modified, since_ms=since_ms, until_ms=until_ms, page_size=page_size)
        wanted = property_list(properties, modified)
        while not window.finished:
            body = await self._json(
                "POST",
                f"/crm/v3/objects/{name}/search",
                kind="search",
                json=window.request_body(wanted),
            )
            records = [record_from_wire(obj, name) for obj in body.get("results") or ()]
            fresh = window.accept(body, records)
            if fresh:
                yield RecordPage(fresh, total=window.total)

    async def list_all(
        self, object_type: str, properties: Sequence[str], *, archived: bool = False
    ) -> AsyncIterator[RecordPage]:
        """Every record (or every archived one), 100 per call, following `paging.next.after`."""
        name = object_type_name(object_type)
        cursor = AfterCursor()
        wanted = property_list(properties, modified_property(name))
        while not cursor.finished:
            params: dict[str, Any] = {
                "limit": LIST_PAGE_SIZE,
                "properties": ",".join(wanted),
                "archived": "true" if archived else "false",
            }
            if cursor.after is not None:
                params["after"] = cursor.after
            body = await self._json("GET", f"/crm/v3/objects/{name}", kind="list", params=params)
            records = [record_from_wire(obj, name) for obj in body.get("results") or ()]
            cursor.advance(body)
            if records:
                yield RecordPage(records)

    async def deleted_since(
        self, object_type: str, since_ms: int | None, properties: Sequence[str] = ()
    ) -> AsyncIterator[RecordPage]:
        """Archived records whose `archivedAt` is at or after `since_ms` (list API, archived)."""
        name = object_type_name(object_type)
        cursor = AfterCursor()
        while not cursor.finished:
            params: dict[str, Any] = {"limit": LIST_PAGE_SIZE, "archived": "true"}
            if properties:
                params["properties"] = ",".join(properties)
            if cursor.after is not None:
                params["after"] = cursor.after
            body = await self._json("GET", f"/crm/v3/objects/{name}", kind="list", params=params)
            cursor.advance(body)
            page: list[RemoteRecord] = []
            for obj in body.get("results") or ():
                archived_at = (
                    parse_timestamp(obj.get("archivedAt"))
                    or parse_timestamp(obj.get("updatedAt"))
                    or 0
                )
                if since_ms is None or archived_at >= since_ms:
                    record = record_from_wire(obj, name)
                    record.modified_at = archived_at or record.modified_at
                    record.deleted = True
                    page.append(record)
            if page:
                page.sort(key=lambda r: (r.modified_at, r.id))
                yield RecordPage(page)

    async def read(
        self,
        object_type: str,
        ids: Sequence[str],
        properties: Sequence[str],
        *,
        with_history: bool = False,
        id_property: str | None = None,
    ) -> dict[str, RemoteRecord]:
        """Batch read by id (or by `id_property`), keyed by the requested key.

        Missing or archived keys are absent from the result. A merged-away id maps to the
        surviving record (its new id is `record.id`). With `with_history`, per-property
        modification times fill `field_modified_at` (batches of 50 then, HubSpot's cap).
        """
        name = object_type_name(object_type)
        wanted = property_list(properties, modified_property(name), "hs_merged_object_ids")
        if id_property:
            wanted = property_list(wanted, id_property)
        size = HISTORY_BATCH_SIZE if with_history else BATCH_SIZE
        keys = list(dict.fromkeys(ids))

        async def read_chunk(start: int, end: int) -> list[tuple[str, RemoteRecord]]:
            chunk = keys[start:end]
            body: dict[str, Any] = {
                "inputs": [{"id": key} for key in chunk],
                "properties": wanted,
                "propertiesWithHistory": list(properties) if with_history else [],
            }
            if id_property:
                body["idProperty"] = id_property
            answer = await self._json(
                "POST", f"/crm/v3/objects/{name}/batch/read", kind="batch_read", json=body
            )
            requested = set(chunk)
            found: list[tuple[str, RemoteRecord]] = []
            for obj in answer.get("results") or ():
                record = record_from_wire(obj, name)
                found += [(key, record) for key in self._keys_for(record, requested, id_property)]
            return found

        return dict(await each_chunk(len(keys), size, read_chunk))

    @staticmethod
    def _keys_for(record: RemoteRecord, requested: set[str], id_property: str | None) -> list[str]:
        if id_property:
            value = record.values.get(id_property)
            hits = [k for k in requested if value is not None and k.lower() == str(value).lower()]
            return hits
        keys = [record.id] if record.id in requested else []
        keys += [old for old in merged_ids(record) if old in requested and old != record.id]
        return keys

    async def find_by(
        self,
        object_type: str,
        field: str,
        values: Sequence[str],
        properties: Sequence[str],
    ) -> list[RemoteRecord]:
        """Records whose `field` is one of `values`: one search per 100 keys (`IN`), paged.

        String values are lowercased, as HubSpot requires for `IN` on string properties.
        Contacts by `email` use batch read with `idProperty=email` instead: no search index
        lag (a contact created a moment ago is found) and no search rate limit.
        """
        name = object_type_name(object_type)
        if name == "contacts" and field == "email":
            keys = [v for v in values if v]
            by_email = await self.read(name, keys, properties, id_property=field)
            unique = {record.id: record for record in by_email.values()}
            return sorted(unique.values(), key=lambda r: r.id)
        keys = list(dict.fromkeys(v.lower() for v in values if v))
        wanted = property_list(properties, field, modified_property(name))
        found: dict[str, RemoteRecord] = {}
        for chunk in chunks(keys, SEARCH_IN_MAX):
            offset = 0
            cursor = AfterCursor()
            while not cursor.finished:
                body: dict[str, Any] = {
                    "filterGroups": [
                        {
                            "filters": [
                                {"propertyName": field, "operator": "IN", "values": list(chunk)}
                            ]
                        }
                    ],
                    "properties": wanted,
                    "limit": SEARCH_PAGE_SIZE,
                }
                if offset:
                    body["after"] = str(offset)
                answer = await self._json(
                    "POST", f"/crm/v3/objects/{name}/search", kind="search", json=body
                )
                results = answer.get("results") or ()
                for obj in results:
                    record = record_from_wire(obj, name)
                    found[record.id] = record
                cursor.advance(answer)
                offset += len(results)
        return sorted(found.values(), key=lambda r: r.id)

    # -- writing ---------------------------------------------------------------------------

    async def create(
        self,
        object_type: str,
        records: Sequence[Mapping[str, Any]],
        *,
        associations: Sequence[Sequence[tuple[str, int]]] | None = None,
    ) -> list[WriteResult]:
        """Batch create (100 per call); `associations[i]` = [(to_id, type_id)] for input i."""
        name = object_type_name(object_type)

        async def create_chunk(start: int, end: int) -> list[WriteResult]:
            inputs: list[dict[str, Any]] = []
            for index in range(start, end):
                item: dict[str, Any] = {
                    "properties": stringify(records[index]),
                    "objectWriteTraceId": str(index),
                }
                if associations is not None and associations[index]:
                    item["associations"] = association_specs(associations[index])
                inputs.append(item)
            keys = [str(index) for index in range(start, end)]
            return await self._write(name, "create", inputs, keys, start)

        return await each_chunk(len(records), BATCH_SIZE, create_chunk)

    async def update(
        self, object_type: str, updates: Sequence[tuple[str, Mapping[str, Any]]]
    ) -> list[WriteResult]:
        """Batch update [(id, values)] (100 per call); "" or None clears a property."""
        name = object_type_name(object_type)

        async def update_chunk(start: int, end: int) -> list[WriteResult]:
            chunk = updates[start:end]
            inputs = [
                {"id": rid, "properties": stringify(values), "objectWriteTraceId": str(start + i)}
                for i, (rid, values) in enumerate(chunk)
            ]
            return await self._write(name, "update", inputs, [rid for rid, _ in chunk], start)

        return await each_chunk(len(updates), BATCH_SIZE, update_chunk)

    async def upsert(
        self,
        object_type: str,
        id_property: str,
        records: Sequence[tuple[str, Mapping[str, Any]]],
    ) -> list[WriteResult]:
        """Batch upsert [(key, values)] by a unique property such as `email` (100 per call)."""
        name = object_type_name(object_type)

        async def upsert_chunk(start: int, end: int) -> list[WriteResult]:
            chunk = records[start:end]
            inputs = [
                {
                    "id": key,
                    "idProperty": id_property,
                    "properties": stringify(values),
                    "objectWriteTraceId": str(start + i),
                }
                for i, (key, values) in enumerate(chunk)
            ]
            keys = [key for key, _ in chunk]
            return await self._write(name, "upsert", inputs, keys, start, id_property=id_property)

        return await each_chunk(len(records), BATCH_SIZE, upsert_chunk)

    async def archive(self, object_type: str, ids: Sequence[str]) -> list[WriteResult]:
        """Batch archive (delete, restorable for 90 days), 100 per call."""
        name = object_type_name(object_type)

        async def archive_chunk(start: int, end: int) -> list[WriteResult]:
            chunk = ids[start:end]
            try:
                await self._json(
                    "POST",
                    f"/crm/v3/objects/{name}/batch/archive",
                    kind="batch_archive",
                    json={"inputs": [{"id": rid} for rid in chunk]},
                )
            except ConnectorError as exc:
                if exc.retryable or exc.category is Category.AUTHENTICATION:
                    raise
                failure = RecordFailure.of(exc.category, exc.api_code, exc.api_message)
                return [
                    WriteResult(start + i, False, rid, failure=failure)
                    for i, rid in enumerate(chunk)
                ]
            return [WriteResult(start + i, True, rid) for i, rid in enumerate(chunk)]

        return await each_chunk(len(ids), BATCH_SIZE, archive_chunk)

    async def _write(
        self,
        name: str,
        op: str,
        inputs: list[dict[str, Any]],
        keys: list[str],
        start: int,
        *,
        id_property: str | None = None,
    ) -> list[WriteResult]:
        """Send one batch; map results and per-item errors back to input positions."""
        url = f"/crm/v3/objects/{name}/batch/{op}"
        try:
            body = await self._json(
                "POST", url, kind=f"batch_{op}", json={"inputs": inputs}, idempotent=op != "create"
            )
        except ConnectorError as exc:
            if exc.retryable or exc.category is Category.AUTHENTICATION:
                raise
            # The whole batch was refused (a 4xx): every input carries the reason.
            failure = RecordFailure.of(exc.category, exc.api_code, exc.api_message)
            return [
                WriteResult(start + i, False, keys[i] if op != "create" else None, failure=failure)
                for i in range(len(inputs))
            ]
        return map_batch_results(
            body, keys, start, op=op, id_property=id_property, object_type=name
        )

    # -- schema ----------------------------------------------------------------------------

    async def properties(self, object_type: str) -> list[dict[str, Any]]:
        """Property definitions of an object type (`GET /crm/v3/properties/{type}`)."""
        name = object_type_name(object_type)
        body = await self._json("GET", f"/crm/v3/properties/{name}", kind="schema")
        return list(body.get("results") or [])

    async def owners(self) -> list[dict[str, Any]]:
        """Every owner (`GET /crm/v3/owners/`, paged)."""
        out: list[dict[str, Any]] = []
        cursor = AfterCursor()
        while not cursor.finished:
            params: dict[str, Any] = {"limit": 100}
            if cursor.after is not None:
                params["after"] = cursor.after
            body = await self._json("GET", "/crm/v3/owners/", kind="owners", params=params)
            out += list(body.get("results") or [])
            cursor.advance(body)
        return out

    async def pipelines(self, object_type: str = "deals") -> list[dict[str, Any]]:
        """Pipelines with their stages (`GET /crm/v3/pipelines/{type}`)."""
        name = object_type_name(object_type)
        body = await self._json("GET", f"/crm/v3/pipelines/{name}", kind="schema")
        return list(body.get("results") or [])

    # -- associations ----------------------------------------------------------------------

    async def read_associations(
        self, from_type: str, to_type: str, ids: Sequence[str]
    ) -> dict[str, list[AssociationLink]]:
        """Associations of each id to `to_type` (v4 batch read, 100 per call)."""
        src, dst = object_type_name(from_type), object_type_name(to_type)
        out: dict[str, list[AssociationLink]] = {rid: [] for rid in ids}
        keys = list(dict.fromkeys(ids))

        async def read_chunk(start: int, end: int) -> list[Any]:
            body = await self._json(
                "POST",
                f"/crm/v4/associations/{src}/{dst}/batch/read",
                kind="associations_read",
                json={"inputs": [{"id": rid} for rid in keys[start:end]]},
            )
            return list(body.get("results") or ())

        for item in await each_chunk(len(keys), BATCH_SIZE, read_chunk):
            from_id = str((item.get("from") or {}).get("id"))
            links = out.setdefault(from_id, [])
            for target in item.get("to") or ():
                types = target.get("associationTypes") or [{}]
                type_id = types[0].get("typeId") if types else None
                links.append(AssociationLink(from_id, str(target["toObjectId"]), type_id))
        return out

    async def create_associations(
        self,
        from_type: str,
        to_type: str,
        pairs: Sequence[tuple[str, str]],
        *,
        type_id: int | None = None,
    ) -> list[WriteResult]:
        """Create [(from_id, to_id)] associations (v4 batch create, 100 per call)."""
        src, dst = object_type_name(from_type), object_type_name(to_type)
        type_id = type_id or ASSOCIATION_TYPES[(src, dst)]

        async def create_chunk(start: int, end: int) -> list[WriteResult]:
            chunk = pairs[start:end]
            inputs = [
                {
                    "from": {"id": a},
                    "to": {"id": b},
                    "types": [
                        {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}
                    ],
                }
                for a, b in chunk
            ]
            try:
                body = await self._json(
                    "POST",
                    f"/crm/v4/associations/{src}/{dst}/batch/create",
                    kind="associations_create",
                    json={"inputs": inputs},
                )
            except ConnectorError as exc:
                if exc.retryable or exc.category is Category.AUTHENTICATION:
                    raise
                failure = RecordFailure.of(Category.ASSOCIATION, exc.api_code, exc.api_message)
                return [
                    WriteResult(start + i, False, a, failure=failure)
                    for i, (a, _) in enumerate(chunk)
                ]
            failed = failed_association_ids(body)
            results: list[WriteResult] = []
            for i, (a, b) in enumerate(chunk):
                problem = failed.get(a) or failed.get(b)
                results.append(WriteResult(start + i, problem is None, a, failure=problem))
            return results

        return await each_chunk(len(pairs), BATCH_SIZE, create_chunk)
