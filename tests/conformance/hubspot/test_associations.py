"""Associations v4 through the unmodified hubspot-api-client."""

from __future__ import annotations

from hubspot import HubSpot
from hubspot.crm.associations.v4 import (
    AssociationSpec,
    BatchInputPublicAssociationMultiArchive,
    BatchInputPublicAssociationMultiPost,
    BatchInputPublicDefaultAssociationMultiPost,
    BatchInputPublicFetchAssociationsBatchRequest,
    PublicAssociationMultiArchive,
    PublicAssociationMultiPost,
    PublicDefaultAssociationMultiPost,
    PublicFetchAssociationsBatchRequest,
    PublicObjectId,
)

from hubforce.emulators.hubspot.models import Portal


def _records(portal: Portal) -> tuple[str, str, str]:
    contact = portal.create_object("contacts", {"email": "x@assoc.example"}).id
    company = portal.create_object("companies", {"name": "Assoc Inc"}).id
    deal = portal.create_object("deals", {"dealname": "Big", "dealstage": "qualifiedtobuy"}).id
    return str(contact), str(company), str(deal)


def test_labeled_create_implies_unlabeled_and_reads_both_ways(
    hubspot_client: HubSpot, portal: Portal
) -> None:
    contact, company, _ = _records(portal)
    api = hubspot_client.crm.associations.v4.basic_api
    made = api.create(
        "contacts",
        contact,
        "companies",
        company,
        [AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=1)],
    )
    assert made.labels == ["Primary"]
    page = api.get_page("contacts", contact, "companies")
    assert [r.to_object_id for r in page.results] == [company]
    assert sorted(t.type_id for t in page.results[0].association_types) == [1, 279]
    back = api.get_page("companies", company, "contacts")
    assert sorted(t.type_id for t in back.results[0].association_types) == [2, 280]
    v3 = hubspot_client.crm.contacts.basic_api.get_by_id(contact, associations=["companies"])
    types = {a.type for a in v3.associations["companies"].results}
    assert types == {"contact_to_company", "contact_to_company_unlabeled"}


def test_default_create_and_archive(hubspot_client: HubSpot, portal: Portal) -> None:
    _, company, deal = _records(portal)
    api = hubspot_client.crm.associations.v4.basic_api
    result = api.create_default("deals", deal, "companies", company)
    assert result.results[0].association_spec.association_type_id == 341
    api.archive("deals", deal, "companies", company)
    assert api.get_page("deals", deal, "companies").results == []


def test_batch_create_read_default_and_archive(hubspot_client: HubSpot, portal: Portal) -> None:
    contact, company, deal = _records(portal)
    batch = hubspot_client.crm.associations.v4.batch_api
    created = batch.create(
        "deals",
        "contacts",
        BatchInputPublicAssociationMultiPost(
            inputs=[
                PublicAssociationMultiPost(
                    _from=PublicObjectId(id=deal),
                    to=PublicObjectId(id=contact),
                    types=[
                        AssociationSpec(
                            association_category="HUBSPOT_DEFINED", association_type_id=3
                        )
                    ],
                )
            ]
        ),
    )
    assert created is not None and created.results[0].to_object_id == contact
    default = batch.create_default(
        "contacts",
        "companies",
        BatchInputPublicDefaultAssociationMultiPost(
            inputs=[
                PublicDefaultAssociationMultiPost(
                    _from=PublicObjectId(id=contact), to=PublicObjectId(id=company)
                )
            ]
        ),
    )
    assert default.results[0].association_spec.association_type_id == 279
    read = batch.get_page(
        "contacts",
        "deals",
        BatchInputPublicFetchAssociationsBatchRequest(
            inputs=[PublicFetchAssociationsBatchRequest(id=contact)]
        ),
    )
    assert read.results[0].to[0].to_object_id == deal
    assert read.results[0].to[0].association_types[0].type_id == 4
    batch.archive(
        "deals",
        "contacts",
        BatchInputPublicAssociationMultiArchive(
            inputs=[
                PublicAssociationMultiArchive(
                    _from=PublicObjectId(id=deal), to=[PublicObjectId(id=contact)]
                )
            ]
        ),
    )
    assert (
        hubspot_client.crm.associations.v4.basic_api.get_page("deals", deal, "contacts").results
        == []
    )
