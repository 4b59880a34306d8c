"""Batch endpoints through the unmodified hubspot-api-client: every verb and the 207 paths."""

from __future__ import annotations

import json

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import (
    ApiException,
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchInputSimplePublicObjectId,
    BatchReadInputSimplePublicObjectId,
    SimplePublicObjectBatchInput,
    SimplePublicObjectBatchInputForCreate,
    SimplePublicObjectBatchInputUpsert,
    SimplePublicObjectId,
)


def _create_many(client: HubSpot, n: int, **extra: str) -> list[str]:
    inputs = [
        SimplePublicObjectBatchInputForCreate(
            properties={"email": f"b{i}@batch.example", "firstname": f"B{i}", **extra},
            associations=[],
        )
        for i in range(n)
    ]
    created = client.crm.contacts.batch_api.create(
        BatchInputSimplePublicObjectBatchInputForCreate(inputs=inputs)
    )
    assert created is not None, "batch create must answer 201 (or 207) or the SDK returns None"
    assert created.status == "COMPLETE"
    return [r.id for r in created.results]


def test_batch_create_answers_201_and_creates_every_input(hubspot_client: HubSpot) -> None:
    ids = _create_many(hubspot_client, 3)
    assert len(set(ids)) == 3
    page = hubspot_client.crm.contacts.basic_api.get_page(properties=["firstname"])
    assert sorted(r.properties["firstname"] for r in page.results) == ["B0", "B1", "B2"]


def test_batch_create_with_trace_ids_gives_207_partial_success(hubspot_client: HubSpot) -> None:
    inputs = [
        SimplePublicObjectBatchInputForCreate(
            properties={"email": "ok@batch.example"}, object_write_trace_id="t1"
        ),
        SimplePublicObjectBatchInputForCreate(
            properties={"email": "broken"}, object_write_trace_id="t2"
        ),
    ]
    result = hubspot_client.crm.contacts.batch_api.create(
        BatchInputSimplePublicObjectBatchInputForCreate(inputs=inputs)
    )
    assert result.num_errors == 1
    assert result.errors[0].category == "VALIDATION_ERROR"
    assert result.errors[0].context["objectWriteTraceId"] == ["t2"]
    assert [r.properties["email"] for r in result.results] == ["ok@batch.example"]


def test_batch_create_without_trace_ids_fails_whole_batch(hubspot_client: HubSpot) -> None:
    inputs = [
        SimplePublicObjectBatchInputForCreate(properties={"email": "fine@batch.example"}),
        SimplePublicObjectBatchInputForCreate(properties={"nope": "x"}),
    ]
    with pytest.raises(ApiException) as exc:
        hubspot_client.crm.contacts.batch_api.create(
            BatchInputSimplePublicObjectBatchInputForCreate(inputs=inputs)
        )
    assert exc.value.status == 400
    assert "PROPERTY_DOESNT_EXIST" in json.loads(exc.value.body)["message"]
    assert hubspot_client.crm.contacts.basic_api.get_page().results == []


def test_batch_read_reports_missing_ids_in_207(hubspot_client: HubSpot) -> None:
    ids = _create_many(hubspot_client, 2)
    result = hubspot_client.crm.contacts.batch_api.read(
        BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=i) for i in [*ids, "999999"]],
            properties=["email"],
            properties_with_history=[],
        ),
        archived=False,
    )
    assert sorted(r.id for r in result.results) == sorted(ids)
    assert result.num_errors == 1
    assert result.errors[0].category == "OBJECT_NOT_FOUND"
    assert result.errors[0].context["ids"] == ["999999"]


def test_batch_read_by_email_id_property(hubspot_client: HubSpot) -> None:
    ids = _create_many(hubspot_client, 2)
    result = hubspot_client.crm.contacts.batch_api.read(
        BatchReadInputSimplePublicObjectId(
            id_property="email",
            inputs=[SimplePublicObjectId(id="b1@batch.example")],
            properties=["firstname"],
        )
    )
    assert [(r.id, r.properties["firstname"]) for r in result.results] == [(ids[1], "B1")]
    assert type(result).__name__ == "BatchResponseSimplePublicObject"  # a 200, not a 207


def test_batch_update_sets_values(hubspot_client: HubSpot) -> None:
    ids = _create_many(hubspot_client, 2)
    result = hubspot_client.crm.contacts.batch_api.update(
        BatchInputSimplePublicObjectBatchInput(
            inputs=[SimplePublicObjectBatchInput(id=i, properties={"lastname": "L"}) for i in ids]
        )
    )
    assert result is not None and result.status == "COMPLETE"
    assert sorted(r.id for r in result.results) == sorted(ids)
    assert (
        hubspot_client.crm.contacts.basic_api.get_by_id(ids[0], properties=["lastname"]).properties[
            "lastname"
        ]
        == "L"
    )


def test_batch_update_unknown_id_is_404(hubspot_client: HubSpot) -> None:
    with pytest.raises(ApiException) as exc:
        hubspot_client.crm.contacts.batch_api.update(
            BatchInputSimplePublicObjectBatchInput(
                inputs=[SimplePublicObjectBatchInput(id="424242", properties={"lastname": "L"})]
            )
        )
    assert exc.value.status == 404


def test_batch_upsert_by_email_reports_new(hubspot_client: HubSpot) -> None:
    (existing,) = _create_many(hubspot_client, 1)
    result = hubspot_client.crm.contacts.batch_api.upsert(
        BatchInputSimplePublicObjectBatchInputUpsert(
            inputs=[
                SimplePublicObjectBatchInputUpsert(
                    id="b0@batch.example", id_property="email", properties={"lastname": "Old"}
                ),
                SimplePublicObjectBatchInputUpsert(
                    id="new@batch.example", id_property="email", properties={"lastname": "New"}
                ),
            ]
        )
    )
    by_new = {r.new: r for r in result.results}
    assert by_new[False].id == existing
    assert by_new[True].properties["email"] == "new@batch.example"


def test_batch_archive_answers_204(hubspot_client: HubSpot) -> None:
    ids = _create_many(hubspot_client, 2)
    returned = hubspot_client.crm.contacts.batch_api.archive(
        BatchInputSimplePublicObjectId(inputs=[SimplePublicObjectId(id=ids[0])])
    )
    assert returned is None  # 204: no body
    remaining = hubspot_client.crm.contacts.basic_api.get_page().results
    assert [r.id for r in remaining] == [ids[1]]


def test_more_than_100_inputs_is_400(hubspot_client: HubSpot) -> None:
    inputs = [SimplePublicObjectId(id=str(i)) for i in range(101)]
    with pytest.raises(ApiException) as exc:
        hubspot_client.crm.contacts.batch_api.read(
            BatchReadInputSimplePublicObjectId(inputs=inputs)
        )
    assert exc.value.status == 400
    body = json.loads(exc.value.body)
    assert body["category"] == "VALIDATION_ERROR"
    assert "101" in body["message"] and "100" in body["message"]
