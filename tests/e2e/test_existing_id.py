"""A HubSpot create refused with 409 "Existing ID: N" links to that contact instead of failing.

The contact holding the e-mail is created in HubSpot after the match lookup and before the
engine's batch create (a transport wrapper injects it on the first contacts batch create), the
way a contact created meanwhile, or one the search index did not show yet, reaches the engine.
"""

from __future__ import annotations

import httpx

from hubforce.errors import Category
from hubforce.sync.model import Side
from tests.e2e.conftest import TOKEN, Harness, V

CREATE_PATH = "/crm/v3/objects/contacts/batch/create"


class InjectBeforeCreate(httpx.AsyncBaseTransport):
    """Creates HubSpot contacts just before the first contacts batch create goes through."""

    def __init__(self, inner: httpx.AsyncBaseTransport, contacts: list[dict[str, str]]) -> None:
        self.inner = inner
        self.pending = list(contacts)
        self.created: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Forward `request`, after creating the pending contacts if it is a batch create."""
        if request.method == "POST" and request.url.path == CREATE_PATH and self.pending:
            contacts, self.pending = self.pending, []
            async with httpx.AsyncClient(
                transport=self.inner, base_url="http://hubspot.emulator", headers=TOKEN
            ) as client:
                for properties in contacts:
                    response = await client.post(
                        "/crm/v3/objects/contacts", json={"properties": properties}
                    )
                    assert response.status_code == 201, response.text
                    self.created.append(response.json()["id"])
        return await self.inner.handle_async_request(request)


class PutBackBeforeCreate(httpx.AsyncBaseTransport):
    """Sets a contact's e-mail just before the first contacts batch create goes through."""

    def __init__(self, inner: httpx.AsyncBaseTransport, contact_id: str, email: str) -> None:
        self.inner = inner
        self.contact_id = contact_id
        self.email = email
        self.done = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Forward `request`, after the e-mail change if it is the first batch create."""
        if request.method == "POST" and request.url.path == CREATE_PATH and not self.done:
            self.done = True
            async with httpx.AsyncClient(
                transport=self.inner, base_url="http://hubspot.emulator", headers=TOKEN
            ) as client:
                response = await client.patch(
                    f"/crm/v3/objects/contacts/{self.contact_id}",
                    json={"properties": {"email": self.email}},
                )
                assert response.status_code == 200, response.text
        return await self.inner.handle_async_request(request)


def _lead(h: Harness, last_name: str, email: str) -> str:
    body = h.call(
        Side.SALESFORCE,
        "POST",
        f"{V}/sobjects/Lead",
        {"LastName": last_name, "Company": "Existing Id Ltd", "Email": email},
    )
    return str(body["id"])


def _inject(h: Harness, contacts: list[dict[str, str]]) -> InjectBeforeCreate:
    wrapper = InjectBeforeCreate(h.transports[Side.HUBSPOT], contacts)
    h.transports[Side.HUBSPOT] = wrapper
    return wrapper


def _contacts(h: Harness, email: str) -> list[dict[str, object]]:
    return [
        c for c in h.hs_all("contacts", "email,lastname") if c["properties"].get("email") == email
    ]


def test_existing_id_on_create_links_the_existing_contact(harness: Harness) -> None:
    email = "taken.meanwhile@existing.example"
    lead = _lead(harness, "Meanwhile", email)
    injected = _inject(harness, [{"email": email, "firstname": "Hub"}])

    report = harness.sync()

    assert len(injected.created) == 1 and injected.pending == []
    existing = injected.created[0]
    link = harness.link("contacts", Side.SALESFORCE, lead)
    assert link is not None
    assert (link.hubspot_id, link.salesforce_type) == (existing, "Lead")
    assert [c["id"] for c in _contacts(harness, email)] == [existing]  # no duplicate
    assert harness.store.failures.counts("contacts") == {}
    assert harness.store.intents.unresolved() == []
    contacts = next(p for p in report.pairs if p.pair == "contacts")
    assert contacts.matched == 1 and not contacts.failures

    # The next cycle compares both sides (no snapshot yet, as after a match) and converges.
    harness.sync()
    rows = harness.soql(f"SELECT FirstName, Email FROM Lead WHERE Id = '{lead}'")
    assert rows == [{"attributes": rows[0]["attributes"], "FirstName": "Hub", "Email": email}]
    relinked = harness.link("contacts", Side.SALESFORCE, lead)
    assert relinked is not None and relinked.snapshot is not None
    harness.reset_stats()
    harness.sync()
    assert harness.writes() == {Side.HUBSPOT: 0, Side.SALESFORCE: 0}
    assert harness.store.failures.counts("contacts") == {}


def test_existing_id_linked_to_another_record_stays_a_duplicate_failure(
    harness: Harness,
) -> None:
    email = "already.linked@existing.example"
    first = _lead(harness, "First", email)
    harness.sync()
    owner = harness.link("contacts", Side.SALESFORCE, first)
    assert owner is not None
    # A second Lead with the same e-mail, created while the first one is still the twin: the
    # match lookup is made to miss the contact by blanking the e-mail HubSpot search sees,
    # then the injected write puts it back just before the create.
    harness.hs_patch("contacts", owner.hubspot_id, {"email": "moved@existing.example"})
    harness.sync()
    second = _lead(harness, "Second", email)
    put_back = PutBackBeforeCreate(harness.transports[Side.HUBSPOT], owner.hubspot_id, email)
    harness.transports[Side.HUBSPOT] = put_back

    report = harness.sync()

    assert put_back.done
    assert harness.link("contacts", Side.SALESFORCE, second) is None
    relinked = harness.link("contacts", Side.HUBSPOT, owner.hubspot_id)
    assert relinked is not None and relinked.salesforce_id == first
    assert len(_contacts(harness, email)) == 1
    assert harness.store.failures.counts("contacts") == {str(Category.DUPLICATE): 1}
    contacts = next(p for p in report.pairs if p.pair == "contacts")
    example = contacts.failure_examples[str(Category.DUPLICATE)]
    assert owner.hubspot_id in example and first in example and second in example
    assert harness.store.intents.unresolved() == []
