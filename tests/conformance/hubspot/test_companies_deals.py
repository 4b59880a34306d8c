"""Companies and deals: the same APIs through their own SDK packages, hs_lastmodifieddate."""

from __future__ import annotations

from hubspot import HubSpot
from hubspot.crm.companies import (
    BatchInputSimplePublicObjectBatchInputForCreate,
    SimplePublicObjectBatchInputForCreate,
)
from hubspot.crm.deals import Filter, FilterGroup, PublicObjectSearchRequest
from hubspot.crm.deals import SimplePublicObjectInputForCreate as DealCreate

from hubforce.emulators.hubspot.models import Portal


def test_company_batch_create_and_read_by_id(hubspot_client: HubSpot) -> None:
    created = hubspot_client.crm.companies.batch_api.create(
        BatchInputSimplePublicObjectBatchInputForCreate(
            inputs=[
                SimplePublicObjectBatchInputForCreate(
                    properties={"name": f"Co {i}", "domain": f"co{i}.example", "industry": "RETAIL"}
                )
                for i in range(3)
            ]
        )
    )
    assert created is not None and len(created.results) == 3
    first = created.results[0]
    assert first.properties["hs_lastmodifieddate"] == first.properties["createdate"]
    assert "lastmodifieddate" not in first.properties
    got = hubspot_client.crm.companies.basic_api.get_by_id(first.id, properties=["industry"])
    assert got.properties["industry"] == "RETAIL"


def test_deal_search_on_hs_lastmodifieddate(hubspot_client: HubSpot, portal: Portal) -> None:
    api = hubspot_client.crm.deals.basic_api
    ids = []
    for i in range(3):
        ids.append(api.create(DealCreate(properties={"dealname": f"D{i}", "amount": str(i)})).id)
        portal.clock.advance(1)
    since = portal.get_object("deals", ids[1]).updated_ms
    result = hubspot_client.crm.deals.search_api.do_search(
        PublicObjectSearchRequest(
            filter_groups=[
                FilterGroup(
                    filters=[
                        Filter(
                            property_name="hs_lastmodifieddate", operator="GTE", value=str(since)
                        )
                    ]
                )
            ],
            sorts=[{"propertyName": "hs_lastmodifieddate", "direction": "DESCENDING"}],
            properties=["dealname"],
        )
    )
    assert result.total == 2
    assert [r.properties["dealname"] for r in result.results] == ["D2", "D1"]


def test_seeded_portal_reads_companies_deals_and_their_associations(
    hubspot_client: HubSpot, portal: Portal
) -> None:
    counts = portal.seed({"seed": 7, "people": 60, "companies": 15, "deals": 12, "reps": 3})
    companies = list(hubspot_client.crm.companies.get_all())
    deals = list(hubspot_client.crm.deals.get_all(associations=["companies"]))
    assert (len(companies), len(deals)) == (counts["companies"], counts["deals"])
    company_ids = {c.id for c in companies}
    for deal in deals:
        linked = {a.id for a in deal.associations["companies"].results}
        assert linked and linked <= company_ids
