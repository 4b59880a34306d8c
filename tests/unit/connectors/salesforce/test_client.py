"""SalesforceClient: SOQL paging, incremental reads, matching, Collections writes, limits."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from hubforce.connectors.governor import salesforce_governor
from hubforce.connectors.http import RetryPolicy
from hubforce.connectors.salesforce.auth import StaticSession
from hubforce.connectors.salesforce.client import SalesforceClient
from hubforce.connectors.salesforce.pages import PaginationLoop
from hubforce.errors import Category, RateLimited
from tests.unit.connectors.conftest import FakeClock, Script, body_of, reply

pytestmark = pytest.mark.anyio

INSTANCE = "https://na1.example.test"
STAMP = "2024-01-01T10:00:00.000+0000"
STAMP_MS = 1704103200000
EDITED = "2024-01-01T09:00:00.000+0000"


def rec(sobject: str, rid: str, **fields: object) -> dict[str, object]:
    return {
        "attributes": {"type": sobject, "url": f"/services/data/v59.0/sobjects/{sobject}/{rid}"},
        "Id": rid,
        "SystemModstamp": STAMP,
        "LastModifiedDate": EDITED,
        **fields,
    }


def soql_of(request: httpx.Request) -> str:
    return parse_qs(urlparse(str(request.url)).query)["q"][0]


def make(script: Script, clock: FakeClock, policy: RetryPolicy, **kw: object) -> SalesforceClient:
    governor = salesforce_governor(sleep=clock.sleep, monotonic=clock.monotonic)
    return SalesforceClient(
        INSTANCE,
        auth=StaticSession("00Dx!tok"),
        transport=script.transport,
        governor=governor,
        policy=policy,
        **kw,  # type: ignore[arg-type]
    )


async def test_changed_since_follows_next_records_url(
    clock: FakeClock, policy: RetryPolicy
) -> None:
    first = {
        "totalSize": 3,
        "done": False,
        "nextRecordsUrl": "/services/data/v59.0/query/01gXX-2",
        "records": [rec("Lead", "00Q1", Email="a@x.test"), rec("Lead", "00Q2", Email="b@x.test")],
    }
    last = {"totalSize": 3, "done": True, "records": [rec("Lead", "00Q3", Email=None)]}
    script = Script(reply(200, first), reply(200, last))
    async with make(script, clock, policy) as sf:
        pages = [
            p async for p in sf.changed_since("Lead", STAMP_MS + 123, ["Email"], page_size=500)
        ]
        assert sf.calls.total == 2
    assert [[r.id for r in p.records] for p in pages] == [["00Q1", "00Q2"], ["00Q3"]]
    record = pages[0].records[0]
    assert record.modified_at == STAMP_MS
    assert record.modified_at_of("Email") == STAMP_MS - 3_600_000  # LastModifiedDate
    assert "attributes" not in record.values and record.object_type == "Lead"
    assert soql_of(script.requests[0]) == (
        "SELECT Id, SystemModstamp, LastModifiedDate, Email FROM Lead "
        "WHERE SystemModstamp >= 2024-01-01T10:00:00Z ORDER BY SystemModstamp ASC, Id ASC"
    )
    assert script.requests[0].url.path == "/services/data/v59.0/query/"
    assert script.requests[0].headers["Sforce-Query-Options"] == "batchSize=500"
    assert str(script.requests[1].url) == f"{INSTANCE}/services/data/v59.0/query/01gXX-2"


async def test_changed_since_with_until_and_filter(clock: FakeClock, policy: RetryPolicy) -> None:
    script = Script(reply(200, {"totalSize": 0, "done": True, "records": []}))
    async with make(script, clock, policy) as sf:
        pages = [
            p
            async for p in sf.changed_since(
                "Lead", None, ["Email"], until_ms=STAMP_MS, where="IsConverted = false"
            )
        ]
    assert pages == []
    assert soql_of(script.requests[0]).endswith(
        "WHERE SystemModstamp <= 2024-01-01T10:00:00Z AND (IsConverted = false) "
        "ORDER BY SystemModstamp ASC, Id ASC"
    )


async def test_repeated_next_records_url_stops(clock: FakeClock, policy: RetryPolicy) -> None:
    looping = {
        "done": False,
        "nextRecordsUrl": "/services/data/v59.0/query/01gL-1",
        "records": [rec("Lead", "1")],
    }
    script = Script(reply(200, looping), reply(200, looping), reply(200, looping))
    async with make(script, clock, policy) as sf:
        with pytest.raises(PaginationLoop):
            async for _ in sf.query("SELECT Id FROM Lead"):
                pass
    assert len(script.requests) == 2


async def test_deleted_since_uses_query_all_with_master_record(
    clock: FakeClock, policy: RetryPolicy
) -> None:
    merged = rec("Contact", "003A", IsDeleted=True, MasterRecordId="003B")
    script = Script(
        reply(200, {"done": True, "records": [merged]}), reply(200, {"done": True, "records": []})
    )
    async with make(script, clock, policy) as sf:
        pages = [p async for p in sf.deleted_since("Contact", STAMP_MS)]
        opp_pages = [p async for p in sf.deleted_since("Opportunity", STAMP_MS)]
    assert pages[0].records[0].deleted and pages[0].records[0].values["MasterRecordId"] == "003B"
    assert opp_pages == []
    assert script.requests[0].url.path == "/services/data/v59.0/queryAll/"
    assert "MasterRecordId" in soql_of(script.requests[0])
    assert "MasterRecordId" not in soql_of(script.requests[1])
    assert "IsDeleted = true" in soql_of(script.requests[0])


async def test_find_by_chunks_in_lists(clock: FakeClock, policy: RetryPolicy) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        statement = soql_of(request)
        inside = statement.split("IN (")[1].split(")")[0]
        emails = [v.strip().strip("'") for v in inside.split(",")]
        return reply(
            200, {"done": True, "records": [rec("Contact", f"003{e}", Email=e) for e in emails[:2]]}
        )

    script = Script(answer, answer, answer)
    emails = [f"p{n}@x.test" for n in range(450)] + ["o'hara@x.test", "", "p0@x.test"]
    async with make(script, clock, policy) as sf:
        found = await sf.find_by("Contact", "Email", emails, ["AccountId"])
        assert sf.calls.by_kind == {"query": 3}
    statements = [soql_of(r) for r in script.requests]
    assert statements[0].startswith(
        "SELECT Id, SystemModstamp, LastModifiedDate, Email, AccountId FROM Contact "
        "WHERE Email IN ("
    )
    assert r"'o\'hara@x.test'" in statements[2]
    assert len(found) == 6


async def test_read_by_ids(clock: FakeClock, policy: RetryPolicy) -> None:
    script = Script(
        reply(200, {"done": True, "records": [rec("Account", "001xx000003DGb2AAG", Name="Acme")]})
    )
    async with make(script, clock, policy) as sf:
        found = await sf.read("Account", ["001xx000003DGb2", "001xx000003DGb3AAG"], ["Name"])
    assert list(found) == ["001xx000003DGb2"]
    assert "Id IN ('001xx000003DGb2', '001xx000003DGb3AAG')" in soql_of(script.requests[0])


async def test_collections_create_partial_failure(clock: FakeClock, policy: RetryPolicy) -> None:
    answer = [
        {"id": "00Q000000000001AAA", "success": True, "errors": []},
        {
            "success": False,
            "errors": [
                {
                    "statusCode": "REQUIRED_FIELD_MISSING",
                    "message": "Required fields are missing: [Company]",
                    "fields": ["Company"],
                }
            ],
        },
        {"id": "00Q000000000003AAA", "success": True, "errors": []},
    ]
    script = Script(reply(200, answer))
    async with make(script, clock, policy) as sf:
        results = await sf.create(
            "Lead",
            [
                {"LastName": "A", "Company": "X"},
                {"LastName": "B"},
                {"LastName": "C", "Company": "Z"},
            ],
        )
    assert [(r.index, r.ok, r.id, r.created) for r in results] == [
        (0, True, "00Q000000000001AAA", True),
        (1, False, None, False),
        (2, True, "00Q000000000003AAA", True),
    ]
    failure = results[1].failure
    assert failure is not None and (failure.category, failure.fields) == (
        Category.REQUIRED_FIELD,
        ("Company",),
    )
    request = script.requests[0]
    assert (request.method, request.url.path) == ("POST", "/services/data/v59.0/composite/sobjects")
    assert request.headers["Sforce-Auto-Assign"] == "FALSE"
    sent = body_of(request)
    assert sent["allOrNone"] is False
    assert sent["records"][0] == {"attributes": {"type": "Lead"}, "LastName": "A", "Company": "X"}


async def test_writes_chunk_by_200_and_honour_auto_assign(
    clock: FakeClock, policy: RetryPolicy
) -> None:
    def ok(request: httpx.Request) -> httpx.Response:
        return reply(
            200,
            [{"id": r["id"], "success": True, "errors": []} for r in body_of(request)["records"]],
        )

    script = Script(ok, ok)
    updates = [(f"00Q{n:015d}", {"Status": "Working"}) for n in range(250)]
    async with make(script, clock, policy, auto_assign=True) as sf:
        results = await sf.update("Lead", updates, auto_assign="01Q000000000001")
    assert [len(body_of(r)["records"]) for r in script.requests] == [200, 50]
    assert script.requests[0].method == "PATCH"
    assert script.requests[0].headers["Sforce-Auto-Assign"] == "01Q000000000001"
    assert body_of(script.requests[0])["records"][0]["id"] == "00Q000000000000000"
    assert all(r.ok for r in results) and results[249].index == 249


async def test_upsert_reports_created(clock: FakeClock, policy: RetryPolicy) -> None:
    answer = [
        {"id": "001A", "success": True, "errors": [], "created": True},
        {"id": "001B", "success": True, "errors": [], "created": False},
    ]
    script = Script(reply(200, answer))
    async with make(script, clock, policy) as sf:
        results = await sf.upsert(
            "Account",
            "HubSpot_Id__c",
            [{"HubSpot_Id__c": "1", "Name": "A"}, {"HubSpot_Id__c": "2", "Name": "B"}],
        )
    assert [(r.id, r.created) for r in results] == [("001A", True), ("001B", False)]
    assert (
        script.requests[0].url.path
        == "/services/data/v59.0/composite/sobjects/Account/HubSpot_Id__c"
    )


async def test_delete_and_a_refused_call(clock: FakeClock, policy: RetryPolicy) -> None:
    deleted = [
        {"id": "001A", "success": True, "errors": []},
        {
            "success": False,
            "errors": [
                {
                    "statusCode": "MALFORMED_ID",
                    "message": "malformed id 001RM000003oLrB000",
                    "fields": [],
                }
            ],
        },
    ]
    refused = [{"message": "At least 1 Id is required.", "errorCode": "REQUIRED_FIELD_MISSING"}]
    script = Script(reply(200, deleted), reply(400, refused))
    async with make(script, clock, policy) as sf:
        results = await sf.delete(["001A", "001RM000003oLrB000"])
        refused_results = await sf.delete(["x"])
    assert [(r.ok, r.id) for r in results] == [(True, "001A"), (False, "001RM000003oLrB000")]
    params = script.requests[0].url.params
    assert (params["ids"], params["allOrNone"]) == ("001A,001RM000003oLrB000", "false")
    assert refused_results[0].failure is not None
    assert refused_results[0].failure.category is Category.REQUIRED_FIELD


async def test_limit_info_feeds_the_governor_and_limit_exceeded_surfaces(
    clock: FakeClock, policy: RetryPolicy
) -> None:
    exceeded = reply(
        403, [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    )
    script = Script(
        reply(200, {"sobjects": []}, {"Sforce-Limit-Info": "api-usage=18/15000"}), exceeded
    )
    async with make(script, clock, policy) as sf:
        await sf.describe_global()
        assert sf.governor.usage is not None and sf.governor.usage.used == 18
        assert sf.governor.budget == 7500
        with pytest.raises(RateLimited) as caught:
            await sf.describe("Lead")
    assert caught.value.window == "daily"
    assert len(script.requests) == 2  # a daily limit is not retried in a loop


async def test_updated_and_deleted_endpoints(clock: FakeClock, policy: RetryPolicy) -> None:
    updated = {"ids": ["001A", "001B"], "latestDateCovered": "2013-05-08T21:20:00.000+0000"}
    deleted = {
        "deletedRecords": [{"id": "001C", "deletedDate": "2013-05-07T22:07:19.000+0000"}],
        "earliestDateAvailable": "2013-05-03T15:57:00.000+0000",
        "latestDateCovered": "2013-05-08T21:20:00.000+0000",
    }
    script = Script(reply(200, updated), reply(200, deleted))
    async with make(script, clock, policy) as sf:
        ids, covered = await sf.get_updated("Account", 1367798400000, 1368050400000)
        rows, _ = await sf.get_deleted("Account", 1367798400000, 1368050400000)
    assert ids == ["001A", "001B"] and covered == 1368048000000
    assert rows == [("001C", 1367964439000)]
    assert script.requests[0].url.params["start"] == "2013-05-06T00:00:00+00:00"
    assert script.requests[1].url.path == "/services/data/v59.0/sobjects/Account/deleted/"
