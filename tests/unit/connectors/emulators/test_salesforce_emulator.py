"""SalesforceClient against the real Salesforce emulator app, in process through ASGITransport."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from hubforce.connectors.governor import salesforce_governor
from hubforce.connectors.http import RetryPolicy
from hubforce.connectors.salesforce.auth import PasswordGrant, StaticSession
from hubforce.connectors.salesforce.client import SalesforceClient
from hubforce.emulators.salesforce.app import SalesforceEmulatorSettings, create_app
from hubforce.errors import AuthFailed, Category
from tests.unit.connectors.conftest import FakeClock

pytestmark = pytest.mark.anyio

BASE = "http://salesforce.emulator.test"


@pytest.fixture
def app() -> object:
    return create_app(SalesforceEmulatorSettings())


@pytest.fixture
async def sf(app: object, clock: FakeClock, policy: RetryPolicy) -> AsyncIterator[SalesforceClient]:
    settings = SalesforceEmulatorSettings()
    creds = settings.org_config().credentials
    auth = PasswordGrant(
        login_url=BASE,
        client_id=creds.consumer_key,
        client_secret=creds.consumer_secret,
        username=creds.username,
        password=creds.password,
        security_token=creds.security_token,
    )
    async with SalesforceClient(
        auth=auth,
        transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
        governor=salesforce_governor(sleep=clock.sleep, monotonic=clock.monotonic),
        policy=policy,
    ) as client:
        yield client


async def test_collections_query_match_and_delete_round_trip(
    app: Any, sf: SalesforceClient
) -> None:
    created = await sf.create(
        "Lead",
        [
            {"LastName": "Lovelace", "Company": "Analytical", "Email": "ada@example.com"},
            {"LastName": "NoCompany", "Email": "x@example.com"},
            {"LastName": "Hopper", "Company": "Navy", "Email": "grace@example.com"},
        ],
    )
    assert [r.ok for r in created] == [True, False, True]
    failure = created[1].failure
    assert failure is not None and failure.category is Category.REQUIRED_FIELD
    assert failure.api_code == "REQUIRED_FIELD_MISSING" and "Company" in failure.fields
    ada, grace = created[0].id, created[2].id
    assert ada and grace and ada.startswith("00Q")

    seen = [
        r
        async for p in sf.changed_since("Lead", 0, ["Email", "LastName"], page_size=200)
        for r in p.records
    ]
    ours = [r for r in seen if r.id in {ada, grace}]
    assert len(ours) == 2
    assert [(r.modified_at, r.id) for r in seen] == sorted((r.modified_at, r.id) for r in seen)

    matches = await sf.find_by(
        "Lead", "Email", ["ada@example.com", "o'brien@example.com"], ["LastName"]
    )
    assert [(m.id, m.values["LastName"]) for m in matches] == [(ada, "Lovelace")]

    updated = await sf.update("Lead", [(ada, {"Title": "Countess"})])
    assert updated[0].ok
    found = await sf.read("Lead", [ada], ["Title"])
    assert found[ada].values["Title"] == "Countess"

    first = await sf.upsert("Account", "HubSpot_Id__c", [{"HubSpot_Id__c": "hs-1", "Name": "Acme"}])
    again = await sf.upsert(
        "Account", "HubSpot_Id__c", [{"HubSpot_Id__c": "hs-1", "Name": "Acme 2"}]
    )
    assert (first[0].ok, first[0].created) == (True, True)
    assert (again[0].ok, again[0].created, again[0].id) == (True, False, first[0].id)

    deleted = await sf.delete([grace])
    assert deleted[0].ok
    gone = [r async for p in sf.deleted_since("Lead", 0) for r in p.records]
    assert grace in {r.id for r in gone}
    assert all(r.deleted for r in gone)

    # getUpdated/getDeleted only cover whole minutes that have passed: move the org clock on.
    app.state.backend.clock.advance(120)
    now = app.state.backend.clock.now_ms()
    updated_ids, _covered = await sf.get_updated("Lead", now - 3_600_000, now)
    assert ada in updated_ids
    deleted_rows, _ = await sf.get_deleted("Lead", now - 3_600_000, now)
    assert grace in {rid for rid, _ in deleted_rows}

    assert sf.governor.usage is not None and sf.governor.usage.used > 0
    describe = await sf.describe("Lead")
    assert "Company" in {f["name"] for f in describe["fields"]}
    limits = await sf.limits()
    assert limits["DailyApiRequests"]["Max"] > 0


async def test_static_token_and_bad_password(
    app: object, clock: FakeClock, policy: RetryPolicy
) -> None:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    governor = salesforce_governor(sleep=clock.sleep, monotonic=clock.monotonic)
    async with SalesforceClient(
        BASE,
        auth=StaticSession("emulator-token"),
        transport=transport,
        governor=governor,
        policy=policy,
    ) as sf:
        assert "sobjects" in await sf.describe_global()
    bad = PasswordGrant(
        login_url=BASE, client_id="x", client_secret="y", username="u", password="p"
    )
    client = SalesforceClient(auth=bad, transport=transport, governor=governor, policy=policy)
    with pytest.raises(AuthFailed) as caught:
        await client.connect()
    await client.aclose()
    assert caught.value.message == "Authentication failed: reauthorize Salesforce"
