"""Batch-create answers carry the created records as HubSpot stored them (the settle uses it)."""

from __future__ import annotations

from hubforce.connectors.hubspot.results import map_batch_results

STAMP = "2024-09-11T13:27:39.356Z"
STAMP_MS = 1726061259356


def created(rid: str, trace: str | None, **props: str | None) -> dict[str, object]:
    body: dict[str, object] = {
        "id": rid,
        "properties": {"hs_object_id": rid, "lastmodifieddate": STAMP, **props},
        "createdAt": STAMP,
        "updatedAt": STAMP,
        "archived": False,
    }
    if trace is not None:
        body["objectWriteTraceId"] = trace
    return body


def test_each_created_input_gets_the_record_as_stored() -> None:
    body = {"results": [created("8", "1", email="b@x.test"), created("7", "0", email="a@x.test")]}
    results = map_batch_results(body, ["0", "1"], 0, op="create", object_type="contacts")
    stored = [r.record for r in results]
    assert [(s.id, s.values["email"], s.modified_at) for s in stored if s] == [
        ("7", "a@x.test", STAMP_MS),
        ("8", "b@x.test", STAMP_MS),
    ]
    assert all(s is not None and s.object_type == "contacts" for s in stored)


def test_untraced_answers_fill_in_order_with_their_records() -> None:
    body = {"results": [created("5", None, firstname=None), created("6", None)]}
    results = map_batch_results(body, ["0", "1"], 0, op="create", object_type="contacts")
    assert [r.record.id if r.record else None for r in results] == ["5", "6"]
    assert results[0].record is not None and results[0].record.values["firstname"] is None


def test_updates_and_calls_without_a_type_carry_no_record() -> None:
    update = map_batch_results({"results": [created("5", None)]}, ["5"], 0, op="update")
    untyped = map_batch_results({"results": [created("5", "0")]}, ["0"], 0, op="create")
    assert update[0].ok and update[0].record is None
    assert untyped[0].ok and untyped[0].record is None
