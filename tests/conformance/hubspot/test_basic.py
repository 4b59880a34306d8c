"""Basic objects API through the unmodified hubspot-api-client."""

from __future__ import annotations

import json

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import (
    ApiException,
    PublicGdprDeleteInput,
    PublicMergeInput,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.contacts.exceptions import NotFoundException, UnauthorizedException
from hubspot.crm.deals import ApiException as DealApiException
from hubspot.crm.deals import SimplePublicObjectInputForCreate as DealCreate

from hubforce.emulators.hubspot.models import Portal


def _create(client: HubSpot, **props: str) -> str:
    created = client.crm.contacts.basic_api.create(
        SimplePublicObjectInputForCreate(properties=props)
    )
    assert created is not None, "a status other than 201 makes the SDK return None"
    return str(created.id)


def test_create_returns_201_record_with_system_properties(hubspot_client: HubSpot) -> None:
    api = hubspot_client.crm.contacts.basic_api
    created = api.create(
        SimplePublicObjectInputForCreate(
            properties={"email": "Ada@Example.com", "firstname": "Ada"}
        )
    )
    assert created.properties["email"] == "ada@example.com"
    assert created.properties["hs_object_id"] == created.id
    assert created.properties["createdate"] == created.properties["lastmodifieddate"]
    assert created.archived is False
    assert created.created_at == created.updated_at


def test_get_page_follows_after_and_accepts_repeated_properties(hubspot_client: HubSpot) -> None:
    ids = [_create(hubspot_client, email=f"p{i}@example.com", firstname=f"P{i}") for i in range(5)]
    api = hubspot_client.crm.contacts.basic_api
    first = api.get_page(limit=2, properties=["email", "firstname"], archived=False)
    assert [r.id for r in first.results] == ids[:2]
    assert first.results[0].properties["firstname"] == "P0"
    second = api.get_page(limit=2, after=first.paging.next.after)
    third = api.get_page(limit=2, after=second.paging.next.after)
    assert [r.id for r in second.results + third.results] == ids[2:]
    assert third.paging is None
    everything = hubspot_client.crm.contacts.get_all()
    assert [r.id for r in everything] == ids


def test_get_by_id_and_by_email_id_property(hubspot_client: HubSpot) -> None:
    contact_id = _create(hubspot_client, email="grace@example.com", lastname="Hopper")
    api = hubspot_client.crm.contacts.basic_api
    by_email = api.get_by_id("grace@example.com", id_property="email", properties=["lastname"])
    assert by_email.id == contact_id
    assert by_email.properties["lastname"] == "Hopper"
    assert by_email.properties.get("phone") is None
    missing = api.get_by_id(contact_id, properties=["phone"])
    assert "phone" in missing.properties and missing.properties["phone"] is None


def test_update_changes_values_and_history(hubspot_client: HubSpot, portal: Portal) -> None:
    contact_id = _create(hubspot_client, email="h@example.com", firstname="Old")
    portal.clock.advance(5)
    api = hubspot_client.crm.contacts.basic_api
    updated = api.update(contact_id, SimplePublicObjectInput(properties={"firstname": "New"}))
    assert updated.properties["firstname"] == "New"
    got = api.get_by_id(contact_id, properties=["firstname"], properties_with_history=["firstname"])
    assert got.properties["firstname"] == "New"
    history = got.properties_with_history["firstname"]
    assert [h.value for h in history] == ["New", "Old"]
    assert history[0].source_type == "API"
    assert got.updated_at > got.created_at


def test_update_with_empty_string_clears(hubspot_client: HubSpot) -> None:
    contact_id = _create(hubspot_client, email="c@example.com", firstname="X")
    api = hubspot_client.crm.contacts.basic_api
    api.update(contact_id, SimplePublicObjectInput(properties={"firstname": ""}))
    assert api.get_by_id(contact_id).properties["firstname"] is None


def test_archive_hides_record_and_archived_true_lists_it(hubspot_client: HubSpot) -> None:
    contact_id = _create(hubspot_client, email="gone@example.com")
    api = hubspot_client.crm.contacts.basic_api
    api.archive(contact_id)
    with pytest.raises(NotFoundException) as exc:
        api.get_by_id(contact_id)
    assert json.loads(exc.value.body)["category"] == "OBJECT_NOT_FOUND"
    archived = api.get_page(archived=True)
    assert [r.id for r in archived.results] == [contact_id]
    assert archived.results[0].archived is True
    assert archived.results[0].archived_at is not None
    assert api.get_page().results == []


def test_duplicate_email_is_409_with_existing_id(hubspot_client: HubSpot) -> None:
    first = _create(hubspot_client, email="dup@example.com")
    with pytest.raises(ApiException) as exc:
        _create(hubspot_client, email="DUP@example.com")
    assert exc.value.status == 409
    body = json.loads(exc.value.body)
    assert body["category"] == "CONFLICT"
    assert body["message"] == f"Contact already exists. Existing ID: {first}"
    assert body["correlationId"] == exc.value.headers["X-HubSpot-Correlation-Id"]


@pytest.mark.parametrize(
    ("props", "code"),
    [
        ({"bogus_prop": "x"}, "PROPERTY_DOESNT_EXIST"),
        ({"email": "not-an-email"}, "INVALID_EMAIL"),
        ({"lifecyclestage": "Customer"}, "INVALID_OPTION"),
        ({"hs_object_id": "5"}, "READ_ONLY_VALUE"),
        ({"annualrevenue": "12k"}, "INVALID_INTEGER"),
    ],
)
def test_invalid_values_are_400_validation_error_naming_the_property(
    hubspot_client: HubSpot, props: dict[str, str], code: str
) -> None:
    with pytest.raises(ApiException) as exc:
        _create(hubspot_client, **props)
    assert exc.value.status == 400
    body = json.loads(exc.value.body)
    assert body["category"] == "VALIDATION_ERROR"
    assert body["message"].startswith("Property values were not valid: ")
    details = json.loads(body["message"].removeprefix("Property values were not valid: "))
    assert details[0]["error"] == code
    assert details[0]["name"] == next(iter(props))


def test_deal_stage_outside_pipeline_is_invalid_option(hubspot_client: HubSpot) -> None:
    api = hubspot_client.crm.deals.basic_api
    ok = api.create(
        DealCreate(properties={"dealname": "D", "dealstage": "closedwon", "amount": "10"})
    )
    assert ok.properties["dealstage"] == "closedwon"
    assert ok.properties["hs_lastmodifieddate"] == ok.properties["createdate"]
    with pytest.raises(DealApiException) as exc:
        api.create(DealCreate(properties={"dealname": "D", "dealstage": "registered"}))
    message = json.loads(exc.value.body)["message"]
    assert (
        "registered is not a valid pipeline stage ID. Valid options are: pipelineId=default : "
        "[appointmentscheduled, qualifiedtobuy, presentationscheduled, decisionmakerboughtin, "
        "contractsent, closedwon, closedlost]"
    ) in message


def test_merge_mints_new_id_and_old_ids_resolve(hubspot_client: HubSpot) -> None:
    a = _create(hubspot_client, email="a@m.example", firstname="Primary")
    b = _create(hubspot_client, email="b@m.example", firstname="Other", lastname="Kept")
    api = hubspot_client.crm.contacts.basic_api
    merged = api.merge(PublicMergeInput(primary_object_id=a, object_id_to_merge=b))
    assert merged.id not in (a, b)
    got = api.get_by_id(b, properties=["firstname", "lastname", "hs_merged_object_ids"])
    assert got.id == merged.id
    assert got.properties["firstname"] == "Primary"
    assert got.properties["lastname"] == "Kept"
    assert got.properties["hs_merged_object_ids"] == f"{a};{b}"
    assert api.get_by_id("b@m.example", id_property="email").id == merged.id


def test_gdpr_delete_is_permanent(hubspot_client: HubSpot) -> None:
    contact_id = _create(hubspot_client, email="gdpr@example.com")
    api = hubspot_client.crm.contacts.basic_api
    api.purge(PublicGdprDeleteInput(object_id="gdpr@example.com", id_property="email"))
    with pytest.raises(NotFoundException):
        api.get_by_id(contact_id, archived=True)
    with pytest.raises(NotFoundException):
        api.get_by_id(contact_id)


def test_bad_token_is_401_invalid_authentication(hubspot_url: str) -> None:
    client = HubSpot(access_token="wrong", host=hubspot_url)
    with pytest.raises(UnauthorizedException) as exc:
        client.crm.contacts.basic_api.get_page()
    body = json.loads(exc.value.body)
    assert body["category"] == "INVALID_AUTHENTICATION"
    assert body["status"] == "error"
    assert "correlationId" in body


def test_object_type_ids_reach_the_same_records(hubspot_client: HubSpot) -> None:
    contact_id = _create(hubspot_client, email="t@example.com")
    page = hubspot_client.crm.objects.basic_api.get_page(object_type="0-1", limit=5)
    assert [r.id for r in page.results] == [contact_id]


def test_unknown_requested_properties_are_ignored(hubspot_client: HubSpot) -> None:
    contact_id = _create(hubspot_client, email="u@example.com", firstname="U")
    got = hubspot_client.crm.contacts.basic_api.get_by_id(
        contact_id, properties=["firstname", "no_such_prop"]
    )
    assert got.properties["firstname"] == "U"
    assert "no_such_prop" not in got.properties
    assert got.properties["hs_object_id"] == contact_id


def test_create_with_inline_association(hubspot_client: HubSpot, portal: Portal) -> None:
    from hubspot.crm.deals import AssociationSpec, PublicAssociationsForObject, PublicObjectId

    company = portal.create_object("companies", {"name": "Inline"}).id
    deal = hubspot_client.crm.deals.basic_api.create(
        DealCreate(
            properties={"dealname": "With company", "dealstage": "qualifiedtobuy"},
            associations=[
                PublicAssociationsForObject(
                    to=PublicObjectId(id=str(company)),
                    types=[
                        AssociationSpec(
                            association_category="HUBSPOT_DEFINED", association_type_id=5
                        )
                    ],
                )
            ],
        )
    )
    got = hubspot_client.crm.deals.basic_api.get_by_id(deal.id, associations=["companies"])
    types = sorted(a.type for a in got.associations["companies"].results)
    assert types == ["deal_to_company", "deal_to_company_unlabeled"]
    assert {a.id for a in got.associations["companies"].results} == {str(company)}
