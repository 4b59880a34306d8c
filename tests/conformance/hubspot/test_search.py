"""Search through the unmodified hubspot-api-client: operators, sorting, paging, the cap."""

from __future__ import annotations

import json

import httpx
import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import ApiException, Filter, FilterGroup, PublicObjectSearchRequest

from hubforce.emulators.hubspot.models import Portal

PEOPLE = [
    ("ada@alpha.example", "Ada", "lead", "100"),
    ("bob@beta.example", "Bob", "customer", "250"),
    ("cy@alpha.example", "Cy", "customer", ""),
    ("di@gamma.example", "Di", "", "75"),
]


@pytest.fixture
def people(hubspot_client: HubSpot, portal: Portal) -> list[str]:
    ids = []
    for email, first, stage, revenue in PEOPLE:
        props = {"email": email, "firstname": first}
        if stage:
            props["lifecyclestage"] = stage
        if revenue:
            props["annualrevenue"] = revenue
        ids.append(portal.create_object("contacts", props).id)
        portal.clock.advance(1)
    return [str(i) for i in ids]


def _search(client: HubSpot, *filters: Filter, **kw: object) -> tuple[int, list[str]]:
    groups = [FilterGroup(filters=list(filters))] if filters else []
    request = PublicObjectSearchRequest(filter_groups=groups, **kw)
    result = client.crm.contacts.search_api.do_search(request)
    return result.total, [r.properties["email"] for r in result.results]


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (Filter(property_name="firstname", operator="EQ", value="ada"), ["ada@alpha.example"]),
        (Filter(property_name="lifecyclestage", operator="EQ", value="Customer"), []),
        (
            Filter(property_name="lifecyclestage", operator="NEQ", value="customer"),
            ["ada@alpha.example", "di@gamma.example"],
        ),
        (
            Filter(property_name="annualrevenue", operator="GT", value="99"),
            ["ada@alpha.example", "bob@beta.example"],
        ),
        (
            Filter(property_name="annualrevenue", operator="LTE", value="100"),
            ["ada@alpha.example", "di@gamma.example"],
        ),
        (Filter(property_name="annualrevenue", operator="LT", value="100"), ["di@gamma.example"]),
        (Filter(property_name="annualrevenue", operator="GTE", value="250"), ["bob@beta.example"]),
        (
            Filter(property_name="annualrevenue", operator="BETWEEN", value="80", high_value="300"),
            ["ada@alpha.example", "bob@beta.example"],
        ),
        (
            Filter(
                property_name="email",
                operator="IN",
                values=["bob@beta.example", "di@gamma.example"],
            ),
            ["bob@beta.example", "di@gamma.example"],
        ),
        (Filter(property_name="firstname", operator="IN", values=["Ada"]), []),
        (
            Filter(property_name="lifecyclestage", operator="NOT_IN", values=["customer"]),
            ["ada@alpha.example", "di@gamma.example"],
        ),
        (Filter(property_name="annualrevenue", operator="NOT_HAS_PROPERTY"), ["cy@alpha.example"]),
        (
            Filter(property_name="lifecyclestage", operator="HAS_PROPERTY"),
            ["ada@alpha.example", "bob@beta.example", "cy@alpha.example"],
        ),
        (
            Filter(property_name="email", operator="CONTAINS_TOKEN", value="*@alpha.example"),
            ["ada@alpha.example", "cy@alpha.example"],
        ),
        (
            Filter(property_name="email", operator="NOT_CONTAINS_TOKEN", value="*@alpha.example"),
            ["bob@beta.example", "di@gamma.example"],
        ),
    ],
)
def test_operator(
    hubspot_client: HubSpot, people: list[str], flt: Filter, expected: list[str]
) -> None:
    total, emails = _search(hubspot_client, flt)
    assert emails == expected
    assert total == len(expected)


def test_groups_are_or_ed_and_filters_and_ed(hubspot_client: HubSpot, people: list[str]) -> None:
    request = PublicObjectSearchRequest(
        filter_groups=[
            FilterGroup(
                filters=[
                    Filter(property_name="lifecyclestage", operator="EQ", value="customer"),
                    Filter(property_name="annualrevenue", operator="HAS_PROPERTY"),
                ]
            ),
            FilterGroup(filters=[Filter(property_name="firstname", operator="EQ", value="di")]),
        ]
    )
    result = hubspot_client.crm.contacts.search_api.do_search(request)
    assert [r.properties["email"] for r in result.results] == [
        "bob@beta.example",
        "di@gamma.example",
    ]


def test_sort_by_number_descending_and_string_form(
    hubspot_client: HubSpot, people: list[str]
) -> None:
    _, emails = _search(
        hubspot_client,
        Filter(property_name="annualrevenue", operator="HAS_PROPERTY"),
        sorts=[{"propertyName": "annualrevenue", "direction": "DESCENDING"}],
    )
    assert emails == ["bob@beta.example", "ada@alpha.example", "di@gamma.example"]
    _, emails = _search(hubspot_client, sorts=["-lastmodifieddate"])
    assert emails == [p[0] for p in reversed(PEOPLE)]


def test_lastmodifieddate_window_sorted_ascending_pages(
    hubspot_client: HubSpot, people: list[str], portal: Portal
) -> None:
    since = portal.get_object("contacts", people[1]).updated_ms
    seen: list[str] = []
    after = "0"
    while True:
        request = PublicObjectSearchRequest(
            filter_groups=[
                FilterGroup(
                    filters=[
                        Filter(property_name="lastmodifieddate", operator="GTE", value=str(since))
                    ]
                )
            ],
            sorts=[{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
            properties=["email"],
            limit=2,
            after=after,
        )
        page = hubspot_client.crm.contacts.search_api.do_search(request)
        assert page.total == 3
        seen += [r.properties["email"] for r in page.results]
        if page.paging is None:
            break
        after = page.paging.next.after
    assert seen == [p[0] for p in PEOPLE[1:]]


def test_paging_past_10000_is_400(hubspot_client: HubSpot, people: list[str]) -> None:
    with pytest.raises(ApiException) as exc:
        hubspot_client.crm.contacts.search_api.do_search(PublicObjectSearchRequest(after="10000"))
    assert exc.value.status == 400
    assert json.loads(exc.value.body)["category"] == "VALIDATION_ERROR"


def test_cap_over_bulk_contacts_stops_paging_at_10000(
    hubspot_client: HubSpot, portal: Portal
) -> None:
    portal.seed({"extra_contacts": 10_050})
    page = hubspot_client.crm.contacts.search_api.do_search(
        PublicObjectSearchRequest(sorts=["lastmodifieddate"], limit=200, after="9800")
    )
    assert page.total == 10_050
    assert len(page.results) == 200
    assert page.paging.next.after == "10000"
    with pytest.raises(ApiException) as exc:
        hubspot_client.crm.contacts.search_api.do_search(
            PublicObjectSearchRequest(sorts=["lastmodifieddate"], limit=200, after="10000")
        )
    assert exc.value.status == 400
    straddling = hubspot_client.crm.contacts.search_api.do_search(
        PublicObjectSearchRequest(sorts=["lastmodifieddate"], limit=200, after="9900")
    )
    assert len(straddling.results) == 100  # results stop at the 10,000th
    assert straddling.paging.next.after == "10000"


def test_association_pseudo_property_filter(hubspot_client: HubSpot, portal: Portal) -> None:
    company = portal.create_object("companies", {"name": "Filter Co"}).id
    linked = portal.create_object("contacts", {"email": "in@co.example"}).id
    portal.create_object("contacts", {"email": "out@co.example"})
    portal.associate("contacts", linked, "companies", company)
    total, emails = _search(
        hubspot_client,
        Filter(property_name="associations.company", operator="EQ", value=str(company)),
    )
    assert (total, emails) == (1, ["in@co.example"])


@pytest.mark.parametrize(
    "body",
    [
        {"limit": 201},
        {"after": "abc"},
        {"sorts": ["email", "firstname"]},
        {
            "filterGroups": [
                {"filters": [{"propertyName": "email", "operator": "LIKE", "value": "x"}]}
            ]
        },
        {
            "filterGroups": [
                {"filters": [{"propertyName": "email", "operator": "HAS_PROPERTY"}] * 7}
            ]
        },
    ],
)
def test_invalid_search_bodies_are_400(hubspot_client: HubSpot, body: dict[str, object]) -> None:
    api = hubspot_client.crm.contacts.search_api
    with pytest.raises(ApiException) as exc:
        api.api_client.call_api(
            "/crm/v3/objects/contacts/search",
            "POST",
            body=body,
            header_params={"Content-Type": "application/json", "Accept": "application/json"},
            auth_settings=["oauth2"],
            response_types_map={200: "object"},
        )
    assert exc.value.status == 400
    assert json.loads(exc.value.body)["category"] == "VALIDATION_ERROR"


def test_search_has_no_rate_headers_and_its_own_limit(
    hubspot_url: str, hubspot_control: httpx.Client
) -> None:
    from tests.conformance.hubspot.conftest import STATIC_TOKEN

    http = hubspot_control
    http.put("/__emulator__/limits", json={"search_per_second": 2})
    headers = {"Authorization": f"Bearer {STATIC_TOKEN}"}
    url = "/crm/v3/objects/contacts/search"
    assert http.post("/__emulator__/clock", json={"freeze": True}).status_code == 200
    try:
        first = http.post(url, json={}, headers=headers)
        assert first.status_code == 200
        assert not [h for h in first.headers if h.lower().startswith("x-hubspot-ratelimit")]
        assert http.post(url, json={}, headers=headers).status_code == 200
        third = http.post(url, json={}, headers=headers)
    finally:
        http.post("/__emulator__/clock", json={"freeze": False})
    assert third.status_code == 429
    body = third.json()
    assert body["message"] == "You have reached your secondly limit."
    assert body["errorType"] == "RATE_LIMIT"
    assert body["policyName"] == "SECONDLY"
