"""The app through httpx.ASGITransport: collections, composite, guard and bad input."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from hubforce.emulators.salesforce.app import SalesforceEmulatorSettings, create_app
from hubforce.emulators.salesforce.wire import render_fault

V = "/services/data/v59.0"
Scenario = Callable[[httpx.AsyncClient], Awaitable[None]]


def run(scenario: Scenario, settings: SalesforceEmulatorSettings | None = None) -> None:
    async def main() -> None:
        transport = httpx.ASGITransport(app=create_app(settings))
        headers = {"Authorization": "Bearer emulator-token"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://sf", headers=headers
        ) as client:
            await scenario(client)

    asyncio.run(main())


def lead(**values: Any) -> dict[str, Any]:
    return {"attributes": {"type": "Lead"}, "LastName": "L", "Company": "C", **values}


def test_collections_all_or_none_rolls_back_and_reports_each_record() -> None:
    async def scenario(c: httpx.AsyncClient) -> None:
        body = {"allOrNone": True, "records": [lead(), {"attributes": {"type": "Lead"}}]}
        reply = await c.post(f"{V}/composite/sobjects", json=body)
        assert reply.status_code == 200
        codes = [r["errors"][0]["statusCode"] for r in reply.json()]
        assert codes == ["ALL_OR_NONE_OPERATION_ROLLED_BACK", "REQUIRED_FIELD_MISSING"]
        state = (await c.get("/__emulator__/state")).json()
        assert state["records"]["Lead"] == []
        body["allOrNone"] = False
        partial = (await c.post(f"{V}/composite/sobjects", json=body)).json()
        assert [r["success"] for r in partial] == [True, False]
        upserted = await c.patch(
            f"{V}/composite/sobjects/Lead/HubSpot_Id__c",
            json={"records": [lead(HubSpot_Id__c="h1"), lead(HubSpot_Id__c="h2")]},
        )
        assert [r["created"] for r in upserted.json()] == [True, True]
        ids = ",".join(r["id"] for r in upserted.json())
        fetched = (
            await c.get(f"{V}/composite/sobjects/Lead?ids={ids}&fields=HubSpot_Id__c")
        ).json()
        assert [r["HubSpot_Id__c"] for r in fetched] == ["h1", "h2"]
        deleted = (await c.delete(f"{V}/composite/sobjects?ids={ids},bogus")).json()
        assert [r["success"] for r in deleted] == [True, True, False]
        assert deleted[2]["errors"][0]["statusCode"] == "MALFORMED_ID"

    run(scenario)


def test_composite_resolves_references_counts_once_and_halts_all_or_none() -> None:
    async def scenario(c: httpx.AsyncClient) -> None:
        subrequests = [
            {"method": "POST", "url": f"{V}/sobjects/Account", "referenceId": "acc",
             "body": {"Name": "Acme"}},
            {"method": "POST", "url": f"{V}/sobjects/Contact", "referenceId": "con",
             "body": {"LastName": "S", "AccountId": "@{acc.id}"}},
        ]  # fmt: skip
        reply = await c.post(f"{V}/composite", json={"compositeRequest": subrequests})
        results = reply.json()["compositeResponse"]
        assert [r["httpStatusCode"] for r in results] == [201, 201]
        assert reply.headers["sforce-limit-info"] == "api-usage=1/110000"
        bad = [*subrequests, {"method": "POST", "url": f"{V}/sobjects/Lead", "referenceId": "x",
                              "body": {"Company": "no last name"}}]  # fmt: skip
        reply = await c.post(f"{V}/composite", json={"allOrNone": True, "compositeRequest": bad})
        results = reply.json()["compositeResponse"]
        assert [r["httpStatusCode"] for r in results] == [400, 400, 400]
        assert results[0]["body"][0]["errorCode"] == "PROCESSING_HALTED"
        assert results[2]["body"][0]["errorCode"] == "REQUIRED_FIELD_MISSING"
        state = (await c.get("/__emulator__/state")).json()
        assert len(state["records"]["Account"]) == 1
        stats = (await c.get("/__emulator__/stats")).json()
        assert stats["by_route"] == {"POST /services/data/v{version}/composite": 2}
        assert stats["api_calls"] == 2

    run(scenario)


def test_composite_batch_counts_each_subrequest_and_halts_on_error() -> None:
    async def scenario(c: httpx.AsyncClient) -> None:
        batch = [
            {"method": "POST", "url": "v59.0/sobjects/Account", "richInput": {"Name": "A"}},
            {"method": "POST", "url": "v59.0/sobjects/Lead", "richInput": {"Company": "x"}},
            {"method": "GET", "url": "v59.0/limits"},
        ]
        reply = await c.post(
            f"{V}/composite/batch", json={"haltOnError": True, "batchRequests": batch}
        )
        body = reply.json()
        assert body["hasErrors"] is True
        assert [r["statusCode"] for r in body["results"]] == [201, 400, 412]
        assert body["results"][2]["result"][0]["errorCode"] == "BATCH_PROCESSING_HALTED"
        assert (await c.get("/__emulator__/stats")).json()["api_calls"] == 3

    run(scenario)


def test_describe_global_honours_if_modified_since() -> None:
    async def scenario(c: httpx.AsyncClient) -> None:
        fresh = await c.get(
            f"{V}/sobjects", headers={"If-Modified-Since": "Mon, 01 Jan 2024 00:00:00 GMT"}
        )
        assert fresh.status_code == 200 and fresh.json()["maxBatchSize"] == 200
        later = await c.get(
            f"{V}/sobjects", headers={"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"}
        )
        assert later.status_code == 304 and later.content == b""

    run(scenario)


def test_guard_and_bad_input_get_vendor_errors() -> None:
    async def scenario(c: httpx.AsyncClient) -> None:
        versions = await c.get("/services/data/", headers={"Authorization": ""})
        assert versions.status_code == 200 and versions.json()[-1]["version"] == "64.0"
        assert "sforce-limit-info" not in versions.headers
        old = await c.get("/services/data/v39.0/sobjects")
        assert old.status_code == 404 and old.json()[0]["errorCode"] == "NOT_FOUND"
        wrong_type = await c.post(
            f"{V}/sobjects/Lead/", content=b"a=b", headers={"content-type": "text/plain"}
        )
        assert wrong_type.status_code == 415
        assert wrong_type.json()[0]["errorCode"] == "UNSUPPORTED_MEDIA_TYPE"
        broken = await c.post(f"{V}/sobjects/Lead", content=b'{"LastName": ')
        assert broken.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
        too_big = await c.post(f"{V}/sobjects/Lead", content=b"x" * (1024 * 1024 + 1))
        assert too_big.status_code == 413
        readonly = await c.post(f"{V}/sobjects/Lead", json={"LastName": "A", "Company": "B",
                                                             "IsConverted": True})  # fmt: skip
        assert readonly.json()[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
        stats = (await c.get("/__emulator__/stats")).json()
        assert stats["api_calls"] == 3  # versions, the bad version and the 413 are not counted

    run(scenario, SalesforceEmulatorSettings(max_body_bytes=1024 * 1024))


def test_control_convert_lead_and_merge() -> None:
    async def scenario(c: httpx.AsyncClient) -> None:
        lead_id = (
            await c.post(f"{V}/sobjects/Lead", json={"LastName": "A", "Company": "B"})
        ).json()["id"]
        converted = await c.post(
            "/__emulator__/convert-lead", json={"leadId": lead_id, "doNotCreateOpportunity": True}
        )
        assert converted.status_code == 200 and converted.json()["opportunityId"] is None
        locked = await c.patch(f"{V}/sobjects/Lead/{lead_id}", json={"Title": "x"})
        assert locked.json()[0]["errorCode"] == "CANNOT_UPDATE_CONVERTED_LEAD"
        a = (await c.post(f"{V}/sobjects/Account", json={"Name": "A"})).json()["id"]
        b = (await c.post(f"{V}/sobjects/Account", json={"Name": "B"})).json()["id"]
        merged = await c.post(
            "/__emulator__/merge", json={"sobject": "Account", "masterId": a, "mergeIds": [b]}
        )
        assert merged.json()["mergedRecordIds"] == [b]
        loser = await c.get(f"{V}/sobjects/Account/{b}")
        assert loser.status_code == 404 and loser.json()[0]["errorCode"] == "ENTITY_IS_DELETED"

    run(scenario)


def test_faults_render_in_salesforce_format() -> None:
    locked = render_fault("unable_to_lock_row")
    assert locked is not None and locked.status_code == 400
    assert json.loads(bytes(locked.body))[0]["errorCode"] == "UNABLE_TO_LOCK_ROW"
    crash = render_fault("500")
    assert crash is not None and crash.status_code == 500
    assert json.loads(bytes(crash.body))[0]["errorCode"] == "UNKNOWN_EXCEPTION"
    expired = render_fault("expired_session")
    assert expired is not None and expired.status_code == 401
    assert render_fault("no-such-fault") is None


def test_an_unexpected_error_is_the_vendor_500_body_not_a_traceback() -> None:
    app = create_app()

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals")

    app.state.backend.get = explode

    async def main() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://sf") as client:
            return await client.get(
                f"{V}/sobjects/Lead/00Q8H0000000001UAA",
                headers={"Authorization": "Bearer emulator-token"},
            )

    reply = asyncio.run(main())
    assert reply.status_code == 500
    body = reply.json()
    assert body[0]["errorCode"] == "UNKNOWN_EXCEPTION"
    assert "secret internals" not in reply.text and "Traceback" not in reply.text


def test_collections_take_200_records_and_composite_25_subrequests() -> None:
    async def scenario(c: httpx.AsyncClient) -> None:
        too_many = await c.post(f"{V}/composite/sobjects", json={"records": [lead()] * 201})
        assert too_many.status_code == 400
        assert too_many.json()[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
        just_enough = await c.post(f"{V}/composite/sobjects", json={"records": [lead()] * 200})
        assert sum(r["success"] for r in just_enough.json()) == 200
        sub = {"method": "GET", "url": f"{V}/limits", "referenceId": "x"}
        reply = await c.post(f"{V}/composite", json={"compositeRequest": [sub] * 26})
        assert reply.status_code == 400
        assert reply.json()[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
        empty = await c.delete(f"{V}/composite/sobjects")
        assert empty.json()[0] == {
            "message": "At least 1 Id is required.",
            "errorCode": "REQUIRED_FIELD_MISSING",
        }

    run(scenario)
