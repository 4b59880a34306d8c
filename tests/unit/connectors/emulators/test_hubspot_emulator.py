"""HubSpotClient against the real HubSpot emulator app, in process through ASGITransport."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from hubforce.connectors.governor import hubspot_governor
from hubforce.connectors.http import RetryPolicy
from hubforce.connectors.hubspot.auth import HubSpotOAuth, PrivateAppToken
from hubforce.connectors.hubspot.client import HubSpotClient
from hubforce.emulators.hubspot.app import create_app
from hubforce.emulators.hubspot.settings import HubSpotEmulatorSettings
from hubforce.errors import AuthFailed, Category
from tests.unit.connectors.conftest import FakeClock

pytestmark = pytest.mark.anyio

BASE = "http://hubspot.emulator.test"


@pytest.fixture
async def hs(clock: FakeClock, policy: RetryPolicy) -> AsyncIterator[HubSpotClient]:
    app = create_app(HubSpotEmulatorSettings(tier="enterprise"))
    governor = hubspot_governor(sleep=clock.sleep, monotonic=clock.monotonic)
    async with HubSpotClient(
        BASE,
        auth=PrivateAppToken("emulator-token"),
        transport=httpx.ASGITransport(app=app),
        governor=governor,
        policy=policy,
    ) as client:
        yield client


async def test_write_read_match_and_archive_round_trip(hs: HubSpotClient) -> None:
    created = await hs.create(
        "contacts",
        [
            {"email": "ada@example.com", "firstname": "Ada", "lastname": "Lovelace"},
            {"email": "not-an-email", "firstname": "Bad"},
            {"email": "grace@example.com", "firstname": "Grace"},
        ],
    )
    assert [r.ok for r in created] == [True, False, True]
    failure = created[1].failure
    assert failure is not None and failure.category is Category.VALIDATION_RULE
    assert failure.api_code == "INVALID_EMAIL"
    ada, grace = created[0].id, created[2].id
    assert ada and grace

    pages = [p async for p in hs.changed_since("contacts", 0, ["email", "firstname"])]
    seen = [r for p in pages for r in p.records]
    assert {r.id for r in seen} == {ada, grace}
    assert [(r.modified_at, r.id) for r in seen] == sorted((r.modified_at, r.id) for r in seen)
    assert all(r.values["email"] for r in seen)

    matches = await hs.find_by(
        "contacts", "email", ["ADA@example.com", "nobody@example.com"], ["firstname"]
    )
    assert [(m.id, m.values["firstname"]) for m in matches] == [(ada, "Ada")]

    updated = await hs.update(
        "contacts", [(ada, {"firstname": "Augusta"}), ("999999999", {"firstname": "X"})]
    )
    assert updated[0].ok and not updated[1].ok
    assert updated[1].failure is not None

    found = await hs.read("contacts", [ada], ["firstname"], with_history=True)
    assert found[ada].values["firstname"] == "Augusta"
    assert found[ada].field_modified_at["firstname"] >= found[ada].modified_at - 1000

    upserted = await hs.upsert(
        "contacts",
        "email",
        [
            ("grace@example.com", {"lastname": "Hopper"}),
            ("alan@example.com", {"lastname": "Turing"}),
        ],
    )
    assert [(r.ok, r.created) for r in upserted] == [(True, False), (True, True)]
    assert upserted[0].id == grace

    archived = await hs.archive("contacts", [grace])
    assert archived[0].ok
    gone = [r async for p in hs.deleted_since("contacts", 0) for r in p.records]
    assert [r.id for r in gone] == [grace] and gone[0].deleted
    assert hs.calls.by_kind == {
        "batch_create": 1,
        "search": 1,
        "batch_update": 1,
        "batch_read": 2,
        "batch_upsert": 1,
        "batch_archive": 1,
        "list": 1,
    }


async def test_schema_reads_and_associations(hs: HubSpotClient) -> None:
    props = await hs.properties("contacts")
    assert "email" in {p["name"] for p in props}
    pipelines = await hs.pipelines("deals")
    stage_ids = {s["id"] for p in pipelines for s in p["stages"]}
    assert "closedwon" in stage_ids
    assert isinstance(await hs.owners(), list)

    company = (await hs.create("companies", [{"name": "Acme", "domain": "acme.example"}]))[0]
    contact = (await hs.create("contacts", [{"email": "c@acme.example"}]))[0]
    assert company.id and contact.id
    by_domain = await hs.find_by("companies", "domain", ["ACME.example", "none.example"], ["name"])
    assert [(c.id, c.values["name"]) for c in by_domain] == [(company.id, "Acme")]
    made = await hs.create_associations("contacts", "companies", [(contact.id, company.id)])
    assert made[0].ok
    links = await hs.read_associations("contacts", "companies", [contact.id])
    assert company.id in {link.to_id for link in links[contact.id]}


async def test_oauth_refresh_against_the_emulator(clock: FakeClock, policy: RetryPolicy) -> None:
    settings = HubSpotEmulatorSettings(tier="enterprise")
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    bad = HubSpotOAuth(client_id=settings.client_id, client_secret="wrong", refresh_token="nope")
    async with HubSpotClient(
        BASE,
        auth=bad,
        transport=transport,
        policy=policy,
        governor=hubspot_governor(sleep=clock.sleep, monotonic=clock.monotonic),
    ) as hs:
        with pytest.raises(AuthFailed) as caught:
            await hs.properties("contacts")
    assert caught.value.message == "Authentication failed: reauthorize HubSpot"
