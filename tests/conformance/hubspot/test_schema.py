"""Properties, pipelines and owners through the unmodified hubspot-api-client."""

from __future__ import annotations

import json

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import SimplePublicObjectInputForCreate
from hubspot.crm.contacts.exceptions import ApiException as ContactsApiException
from hubspot.crm.properties import ApiException, OptionInput, PropertyCreate

from hubforce.emulators.hubspot.models import Portal


def test_default_catalogue_has_types_options_and_read_only_flags(hubspot_client: HubSpot) -> None:
    contacts = hubspot_client.crm.properties.core_api.get_all("contacts", archived=False)
    by_name = {p.name: p for p in contacts.results}
    assert by_name["email"].type == "string"
    assert by_name["lastmodifieddate"].type == "datetime"
    assert by_name["lastmodifieddate"].modification_metadata.read_only_value is True
    assert by_name["email"].modification_metadata.read_only_value is False
    stages = [o.value for o in by_name["lifecyclestage"].options]
    assert stages[:2] == ["subscriber", "lead"] and "customer" in stages
    deals = {p.name: p for p in hubspot_client.crm.properties.core_api.get_all("deals").results}
    assert deals["dealstage"].external_options is True and deals["dealstage"].options == []
    companies = {
        p.name for p in hubspot_client.crm.properties.core_api.get_all("companies").results
    }
    assert {"name", "domain", "hs_lastmodifieddate", "industry"} <= companies


def test_create_custom_enumeration_property_and_validate_values(hubspot_client: HubSpot) -> None:
    created = hubspot_client.crm.properties.core_api.create(
        "contacts",
        PropertyCreate(
            name="favorite_flavor",
            label="Favorite flavor",
            type="enumeration",
            field_type="checkbox",
            group_name="contactinformation",
            options=[
                OptionInput(label="Chocolate", value="chocolate", display_order=0, hidden=False),
                OptionInput(label="Strawberry", value="strawberry", display_order=1, hidden=False),
            ],
        ),
    )
    assert created.name == "favorite_flavor" and created.hubspot_defined is False
    got = hubspot_client.crm.properties.core_api.get_by_name("contacts", "favorite_flavor")
    assert [o.value for o in got.options] == ["chocolate", "strawberry"]
    api = hubspot_client.crm.contacts.basic_api
    ok = api.create(
        SimplePublicObjectInputForCreate(properties={"favorite_flavor": "chocolate;strawberry"})
    )
    assert ok.id
    with pytest.raises(ContactsApiException) as exc:
        api.create(SimplePublicObjectInputForCreate(properties={"favorite_flavor": "vanilla"}))
    assert (
        "vanilla was not one of the allowed options: [chocolate, strawberry]"
        in json.loads(exc.value.body)["message"]
    )


def test_duplicate_property_name_is_409(hubspot_client: HubSpot) -> None:
    with pytest.raises(ApiException) as exc:
        hubspot_client.crm.properties.core_api.create(
            "contacts",
            PropertyCreate(
                name="email", label="E", type="string", field_type="text", group_name="g"
            ),
        )
    assert exc.value.status == 409


def test_unique_custom_property_works_as_id_property(hubspot_client: HubSpot) -> None:
    hubspot_client.crm.properties.core_api.create(
        "companies",
        PropertyCreate(
            name="erp_id",
            label="ERP id",
            type="string",
            field_type="text",
            group_name="companyinformation",
            has_unique_value=True,
        ),
    )
    from hubspot.crm.companies import SimplePublicObjectInputForCreate as CompanyCreate

    made = hubspot_client.crm.companies.basic_api.create(
        CompanyCreate(properties={"name": "Acme", "erp_id": "ERP-1"})
    )
    got = hubspot_client.crm.companies.basic_api.get_by_id("ERP-1", id_property="erp_id")
    assert got.id == made.id


def test_pipelines_list_default_stages(hubspot_client: HubSpot) -> None:
    pipelines = hubspot_client.crm.pipelines.pipelines_api.get_all("deals").results
    assert [p.id for p in pipelines] == ["default"]
    stages = [s.id for s in pipelines[0].stages]
    assert stages == [
        "appointmentscheduled",
        "qualifiedtobuy",
        "presentationscheduled",
        "decisionmakerboughtin",
        "contractsent",
        "closedwon",
        "closedlost",
    ]
    one = hubspot_client.crm.pipelines.pipeline_stages_api.get_all("deals", "default")
    assert [s.id for s in one.results] == stages


def test_owners_come_from_seed_reps_and_validate_owner_ids(
    hubspot_client: HubSpot, portal: Portal
) -> None:
    portal.seed({"seed": 3, "people": 5, "companies": 3, "deals": 0, "reps": 2})
    owners = hubspot_client.crm.owners.owners_api.get_page(limit=10).results
    assert len(owners) == 2
    assert all(o.email.endswith("@hubforce-sales.example") for o in owners)
    one = hubspot_client.crm.owners.owners_api.get_by_id(owners[0].id)
    assert one.email == owners[0].email
    api = hubspot_client.crm.contacts.basic_api
    good = api.create(
        SimplePublicObjectInputForCreate(properties={"hubspot_owner_id": owners[1].id})
    )
    assert good.id
    with pytest.raises(ContactsApiException) as exc:
        api.create(SimplePublicObjectInputForCreate(properties={"hubspot_owner_id": "1"}))
    assert exc.value.status == 400


def test_update_and_archive_a_custom_property(hubspot_client: HubSpot) -> None:
    from hubspot.crm.properties import PropertyUpdate

    core = hubspot_client.crm.properties.core_api
    core.create(
        "deals",
        PropertyCreate(
            name="region", label="Region", type="string", field_type="text", group_name="g"
        ),
    )
    updated = core.update("deals", "region", PropertyUpdate(label="Sales region"))
    assert updated.label == "Sales region"
    core.archive("deals", "region")
    with pytest.raises(ApiException) as exc:
        core.get_by_name("deals", "region")
    assert exc.value.status == 404
    with pytest.raises(ApiException) as exc2:
        core.archive("deals", "dealname")
    assert exc2.value.status == 400
