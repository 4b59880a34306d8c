"""HubSpotClient batch writes (200/201/207), reads, matching, schema and associations."""

from __future__ import annotations

import httpx
import pytest

from hubforce.connectors.governor import hubspot_governor
from hubforce.connectors.http import RetryPolicy
from hubforce.connectors.hubspot.auth import PrivateAppToken
from hubforce.connectors.hubspot.client import HubSpotClient
from hubforce.connectors.hubspot.pages import PaginationLoop
from hubforce.connectors.hubspot.results import map_batch_results
from hubforce.errors import AuthFailed, Category
from tests.unit.connectors.conftest import FakeClock, Script, body_of, reply

pytestmark = pytest.mark.anyio

STAMP = "2024-09-11T13:27:39.356Z"
STAMP_MS = 1726061259356
INVALID_OPTION = (
    'Property values were not valid: [{"isValid":false,"message":"Japan Summer was not one of '
    'the allowed options","error":"INVALID_OPTION","name":"country_pick"}]'
)


def obj(rid: str, **props: str) -> dict[str, object]:
    return {
        "id": rid,
        "properties": {"hs_object_id": rid, "lastmodifieddate": STAMP, **props},
        "createdAt": STAMP,
        "updatedAt": STAMP,
        "archived": False,
    }


def make(script: Script, clock: FakeClock, policy: RetryPolicy) -> HubSpotClient:
    governor = hubspot_governor(sleep=clock.sleep, monotonic=clock.monotonic)
    return HubSpotClient(
        "https://api.hubapi.test/",
        auth=PrivateAppToken("pat-x"),
        transport=script.transport,
        governor=governor,
        policy=policy,
    )


async def test_batch_create_207_maps_failures_to_their_inputs(
    clock: FakeClock, policy: RetryPolicy
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        inputs = body_of(request)["inputs"]
        assert len(inputs) == 3
        results = [
            {**obj("101", email="a@x.test"), "objectWriteTraceId": inputs[0]["objectWriteTraceId"]},
            {**obj("103", email="c@x.test"), "objectWriteTraceId": inputs[2]["objectWriteTraceId"]},
        ]
        error = {
            "status": "error",
            "category": "VALIDATION_ERROR",
            "message": INVALID_OPTION,
            "context": {"objectWriteTraceId": [inputs[1]["objectWriteTraceId"]]},
        }
        return reply(
            207, {"status": "COMPLETE", "results": results, "errors": [error], "numErrors": 1}
        )

    script = Script(answer)
    async with make(script, clock, policy) as hs:
        results = await hs.create(
            "contacts",
            [
                {"email": "a@x.test"},
                {"email": "b@x.test", "country_pick": "Japan Summer"},
                {"email": "c@x.test"},
            ],
        )
    assert [(r.index, r.ok, r.id, r.created) for r in results] == [
        (0, True, "101", True),
        (1, False, None, False),
        (2, True, "103", True),
    ]
    failure = results[1].failure
    assert failure is not None
    assert (failure.category, failure.api_code, failure.fields) == (
        Category.PICKLIST,
        "INVALID_OPTION",
        ("country_pick",),
    )
    assert script.requests[0].url.path == "/crm/v3/objects/contacts/batch/create"


async def test_create_splits_into_batches_of_100_and_sends_strings(
    clock: FakeClock, policy: RetryPolicy
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        inputs = body_of(request)["inputs"]
        results = [
            {
                **obj(str(1000 + int(i["objectWriteTraceId"]))),
                "objectWriteTraceId": i["objectWriteTraceId"],
            }
            for i in inputs
        ]
        return reply(201, {"status": "COMPLETE", "results": list(reversed(results))})

    script = Script(answer, answer, answer)
    records = [
        {"email": f"p{n}@x.test", "num": n, "opt_in": True, "gone": None} for n in range(250)
    ]
    async with make(script, clock, policy) as hs:
        results = await hs.create("contacts", records)
        assert hs.calls.by_kind == {"batch_create": 3}
    assert [len(body_of(r)["inputs"]) for r in script.requests] == [100, 100, 50]
    first = body_of(script.requests[0])["inputs"][0]["properties"]
    assert first == {"email": "p0@x.test", "num": "0", "opt_in": "true", "gone": ""}
    assert [r.id for r in results] == [str(1000 + n) for n in range(250)]
    assert all(r.ok and r.index == n for n, r in enumerate(results))


async def test_create_with_inline_associations(clock: FakeClock, policy: RetryPolicy) -> None:
    script = Script(
        reply(201, {"status": "COMPLETE", "results": [{**obj("7"), "objectWriteTraceId": "0"}]})
    )
    async with make(script, clock, policy) as hs:
        results = await hs.create("deals", [{"dealname": "Acme"}], associations=[[("900", 341)]])
    assert results[0].ok
    sent = body_of(script.requests[0])["inputs"][0]["associations"]
    assert sent == [
        {
            "to": {"id": "900"},
            "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 341}],
        }
    ]


async def test_whole_batch_400_fails_every_input_and_goes_on(
    clock: FakeClock, policy: RetryPolicy
) -> None:
    bad = reply(
        400,
        {
            "status": "error",
            "category": "VALIDATION_ERROR",
            "message": INVALID_OPTION,
            "correlationId": "z",
        },
    )
    script = Script(bad)
    async with make(script, clock, policy) as hs:
        results = await hs.update(
            "contacts", [("1", {"country_pick": "x"}), ("2", {"country_pick": "y"})]
        )
    assert [(r.ok, r.id) for r in results] == [(False, "1"), (False, "2")]
    assert all(r.failure and r.failure.category is Category.PICKLIST for r in results)


async def test_update_207_errors_by_id(clock: FakeClock, policy: RetryPolicy) -> None:
    error = {
        "status": "error",
        "category": "OBJECT_NOT_FOUND",
        "message": "not found",
        "context": {"ids": ["2"]},
    }
    script = Script(reply(207, {"status": "COMPLETE", "results": [obj("1")], "errors": [error]}))
    async with make(script, clock, policy) as hs:
        results = await hs.update(
            "contacts", [("1", {"firstname": "A"}), ("2", {"firstname": "B"})]
        )
    assert [(r.ok, r.id, r.created) for r in results] == [(True, "1", False), (False, "2", False)]
    assert results[1].failure is not None and results[1].failure.category is Category.NOT_FOUND


async def test_upsert_reports_created_from_new(clock: FakeClock, policy: RetryPolicy) -> None:
    results_body = [
        {**obj("5", email="old@x.test"), "new": False},
        {**obj("6", email="new@x.test"), "new": True},
    ]
    script = Script(reply(200, {"status": "COMPLETE", "results": results_body}))
    async with make(script, clock, policy) as hs:
        results = await hs.upsert(
            "contacts", "email", [("NEW@x.test", {"a": "1"}), ("old@x.test", {"a": "2"})]
        )
    assert [(r.id, r.created) for r in results] == [("6", True), ("5", False)]
    assert body_of(script.requests[0])["inputs"][0]["idProperty"] == "email"


async def test_archive_204(clock: FakeClock, policy: RetryPolicy) -> None:
    script = Script(reply(204))
    async with make(script, clock, policy) as hs:
        results = await hs.archive("companies", ["1", "2"])
    assert [(r.ok, r.id) for r in results] == [(True, "1"), (True, "2")]
    assert body_of(script.requests[0]) == {"inputs": [{"id": "1"}, {"id": "2"}]}


async def test_read_resolves_merged_ids_and_skips_missing(
    clock: FakeClock, policy: RetryPolicy
) -> None:
    merged = obj("300", email="m@x.test", hs_merged_object_ids="100;200")
    missing = {
        "status": "error",
        "category": "OBJECT_NOT_FOUND",
        "message": "Could not get some CONTACT objects",
        "context": {"ids": ["404"]},
    }
    script = Script(reply(207, {"status": "COMPLETE", "results": [merged], "errors": [missing]}))
    async with make(script, clock, policy) as hs:
        found = await hs.read("contacts", ["100", "404"], ["email"])
    assert set(found) == {"100"}
    assert found["100"].id == "300"
    assert found["100"].modified_at == STAMP_MS
    assert "hs_merged_object_ids" in body_of(script.requests[0])["properties"]


async def test_read_with_history_uses_batches_of_50(clock: FakeClock, policy: RetryPolicy) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        sent = body_of(request)
        assert sent["propertiesWithHistory"] == ["firstname"]
        out = []
        for item in sent["inputs"]:
            record = obj(item["id"], firstname="Ann")
            record["propertiesWithHistory"] = {
                "firstname": [
                    {"value": "Ann", "timestamp": "2024-09-11T13:00:00.000Z", "sourceType": "API"},
                    {
                        "value": "An",
                        "timestamp": "2024-01-01T00:00:00.000Z",
                        "sourceType": "CRM_UI",
                    },
                ]
            }
            out.append(record)
        return reply(200, {"status": "COMPLETE", "results": out})

    script = Script(answer, answer)
    ids = [str(n) for n in range(1, 61)]
    async with make(script, clock, policy) as hs:
        found = await hs.read("contacts", ids, ["firstname"], with_history=True)
    assert [len(body_of(r)["inputs"]) for r in script.requests] == [50, 10]
    assert found["7"].field_modified_at["firstname"] == 1726059600000
    assert found["7"].modified_at_of("email") == STAMP_MS


async def test_read_by_email_id_property(clock: FakeClock, policy: RetryPolicy) -> None:
    script = Script(reply(200, {"status": "COMPLETE", "results": [obj("9", email="ann@x.test")]}))
    async with make(script, clock, policy) as hs:
        found = await hs.read(
            "contacts", ["Ann@x.test", "bob@x.test"], ["email"], id_property="email"
        )
    assert list(found) == ["Ann@x.test"]
    assert body_of(script.requests[0])["idProperty"] == "email"


async def test_find_by_uses_in_chunks_lowercased_and_pages(
    clock: FakeClock, policy: RetryPolicy
) -> None:
    def page(request: httpx.Request) -> httpx.Response:
        sent = body_of(request)
        values = sent["filterGroups"][0]["filters"][0]["values"]
        offset = int(sent.get("after", 0))
        found = [
            obj(str(n), email=v) for n, v in enumerate(values[offset : offset + 200], start=offset)
        ]
        paging = {"paging": {"next": {"after": "200"}}} if offset == 0 and len(values) > 200 else {}
        return reply(200, {"total": len(values), "results": found, **paging})

    script = Script(page, page, page)
    domains = [f"Site{n}.X.test" for n in range(250)]
    async with make(script, clock, policy) as hs:
        found = await hs.find_by("companies", "domain", domains, ["name"])
        assert hs.calls.by_kind == {"search": 3}
    sent = [body_of(r)["filterGroups"][0]["filters"][0] for r in script.requests]
    assert [len(f["values"]) for f in sent] == [100, 100, 50]
    assert sent[0]["operator"] == "IN" and sent[0]["values"][0] == "site0.x.test"
    assert script.requests[0].url.path == "/crm/v3/objects/companies/search"
    assert len(found) == 100  # ids repeat per chunk in this fake; distinct ids are kept once


async def test_owners_follow_paging_and_detect_loops(clock: FakeClock, policy: RetryPolicy) -> None:
    script = Script(
        reply(
            200, {"results": [{"id": "1", "email": "a@x.test"}], "paging": {"next": {"after": "2"}}}
        ),
        reply(200, {"results": [{"id": "2", "email": "b@x.test"}]}),
    )
    async with make(script, clock, policy) as hs:
        owners = await hs.owners()
    assert [o["id"] for o in owners] == ["1", "2"]
    assert script.requests[1].url.params["after"] == "2"

    looping = Script(*[reply(200, {"results": [], "paging": {"next": {"after": "X"}}})] * 3)
    async with make(looping, clock, policy) as hs:
        with pytest.raises(PaginationLoop):
            await hs.owners()
    assert len(looping.requests) == 2


async def test_pipelines_and_properties(clock: FakeClock, policy: RetryPolicy) -> None:
    stages = [{"id": "closedwon", "label": "Closed won"}]
    script = Script(
        reply(200, {"results": [{"id": "default", "stages": stages}]}),
        reply(200, {"results": [{"name": "email", "type": "string"}]}),
    )
    async with make(script, clock, policy) as hs:
        assert (await hs.pipelines())[0]["stages"] == stages
        assert (await hs.properties("0-1"))[0]["name"] == "email"
    assert [r.url.path for r in script.requests] == [
        "/crm/v3/pipelines/deals",
        "/crm/v3/properties/contacts",
    ]


async def test_associations_read_and_create(clock: FakeClock, policy: RetryPolicy) -> None:
    read_answer = {
        "status": "COMPLETE",
        "results": [
            {
                "from": {"id": "1"},
                "to": [
                    {
                        "toObjectId": 900,
                        "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": 279}],
                    }
                ],
            }
        ],
    }
    create_error = {
        "status": "error",
        "category": "VALIDATION_ERROR",
        "message": "company 999 does not exist",
        "context": {"toObjectId": ["999"]},
    }
    script = Script(
        reply(200, read_answer),
        reply(207, {"status": "COMPLETE", "results": [{}], "errors": [create_error]}),
    )
    async with make(script, clock, policy) as hs:
        links = await hs.read_associations("contacts", "companies", ["1", "2"])
        made = await hs.create_associations("contacts", "companies", [("1", "900"), ("2", "999")])
    assert [(link.to_id, link.type_id) for link in links["1"]] == [("900", 279)]
    assert links["2"] == []
    assert [r.ok for r in made] == [True, False]
    assert made[1].failure is not None and made[1].failure.category is Category.ASSOCIATION
    sent = body_of(script.requests[1])["inputs"][0]
    assert sent["types"] == [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}]
    assert script.requests[1].url.path == "/crm/v4/associations/contacts/companies/batch/create"


async def test_deleted_since_reads_archived_after_the_cursor(
    clock: FakeClock, policy: RetryPolicy
) -> None:
    archived = [
        {**obj("1"), "archived": True, "archivedAt": "2024-01-01T00:00:00.000Z"},
        {**obj("2"), "archived": True, "archivedAt": "2024-10-01T00:00:00.000Z"},
    ]
    script = Script(reply(200, {"results": archived}))
    async with make(script, clock, policy) as hs:
        pages = [p async for p in hs.deleted_since("contacts", STAMP_MS)]
    assert [(r.id, r.deleted) for p in pages for r in p.records] == [("2", True)]
    assert script.requests[0].url.params["archived"] == "true"


async def test_auth_failure_in_a_batch_write_is_raised_not_swallowed(
    clock: FakeClock, policy: RetryPolicy
) -> None:
    script = Script(
        reply(401, {"status": "error", "message": "no", "category": "INVALID_AUTHENTICATION"})
    )
    async with make(script, clock, policy) as hs:
        with pytest.raises(AuthFailed):
            await hs.update("contacts", [("1", {"a": "b"})])


async def test_find_contacts_by_email_uses_batch_read_not_search(
    clock: FakeClock, policy: RetryPolicy
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        sent = body_of(request)
        assert sent["idProperty"] == "email"
        return reply(
            200,
            {"status": "COMPLETE", "results": [obj("1", email=sent["inputs"][0]["id"].lower())]},
        )

    script = Script(answer, answer)
    emails = [f"p{n}@x.test" for n in range(150)]
    async with make(script, clock, policy) as hs:
        found = await hs.find_by("contacts", "email", emails, ["firstname"])
        assert hs.calls.by_kind == {"batch_read": 2}
    assert [r.id for r in found] == ["1"]
    assert [len(body_of(r)["inputs"]) for r in script.requests] == [100, 50]


def test_created_records_without_trace_ids_fill_inputs_in_order() -> None:
    body = {
        "results": [obj("1"), obj("2")],
        "errors": [
            {
                "status": "error",
                "category": "CONFLICT",
                "message": "Contact already exists. Existing ID: 7",
                "context": {"objectWriteTraceId": ["1"]},
            }
        ],
    }
    results = map_batch_results(body, ["0", "1", "2"], 0, op="create")
    assert [(r.ok, r.id) for r in results] == [(True, "1"), (False, None), (True, "2")]
    assert results[1].failure is not None and results[1].failure.category is Category.DUPLICATE


def test_an_input_the_answer_never_mentions_is_a_failure() -> None:
    results = map_batch_results({"results": [obj("5")]}, ["5", "6"], 0, op="update")
    assert [(r.ok, r.id) for r in results] == [(True, "5"), (False, "6")]
    assert results[1].failure is not None and results[1].failure.api_code == "NO_RESULT"


def test_a_write_result_carries_the_moment_hubspot_says_the_write_landed() -> None:
    answer = {
        "results": [{"id": "5", "properties": {"lastmodifieddate": STAMP}, "updatedAt": STAMP}]
    }
    (result,) = map_batch_results(answer, ["5"], 0, op="update", object_type="contacts")
    assert (result.ok, result.modified_at, result.record) == (True, STAMP_MS, None)
    created = map_batch_results(
        {"results": [{"id": "7", "properties": {"email": "a@b.c"}, "updatedAt": STAMP}]},
        ["0"],
        0,
        op="create",
        object_type="contacts",
    )
    assert created[0].modified_at == STAMP_MS and created[0].record is not None
