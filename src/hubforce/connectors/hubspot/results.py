"""HubSpot batch answers (200/201/207) -> one WriteResult per input, in input order."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from hubforce.connectors.hubspot import errors as hs_errors
from hubforce.connectors.hubspot.wire import record_from_wire
from hubforce.connectors.records import RemoteRecord, WriteResult
from hubforce.errors import Category, RecordFailure


def chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    """Consecutive slices of at most `size` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def map_batch_results(
    body: Mapping[str, Any],
    keys: list[str],
    start: int,
    *,
    op: str,
    id_property: str | None = None,
    object_type: str | None = None,
) -> list[WriteResult]:
    """Results and per-item errors of a 200/201/207 batch answer -> one WriteResult per input.

    Inputs are matched by `objectWriteTraceId` first, then by id (update) or by the upsert key;
    created records without a trace id fill the remaining inputs in order. An input the answer
    does not mention at all is a failure, never a silent success.
    """
    by_position: dict[int, WriteResult] = {}
    # A create has no key but its trace id; never match a new record's id against those.
    position_of_key = {} if op == "create" else {key.lower(): i for i, key in enumerate(keys)}
    unplaced: list[Mapping[str, Any]] = []
    for obj in body.get("results") or ():
        pos = _position(obj, keys, position_of_key, start, id_property)
        if pos is None:
            unplaced.append(obj)
            continue
        created = op == "create" or bool(obj.get("new", False))
        by_position[pos] = _succeeded(start + pos, obj, op, object_type, created=created)
    for error in body.get("errors") or ():
        failure = hs_errors.record_failure(error)
        context = error.get("context") or {}
        positions = [
            int(t) - start for t in context.get("objectWriteTraceId") or () if str(t).isdigit()
        ]
        for key in context.get("ids") or context.get("id") or ():
            if str(key).lower() in position_of_key:
                positions.append(position_of_key[str(key).lower()])
        for pos in positions:
            if 0 <= pos < len(keys) and pos not in by_position:
                rid = keys[pos] if op != "create" else None
                by_position[pos] = WriteResult(start + pos, False, rid, failure=failure)
    if op == "create" and unplaced:
        # No trace ids echoed: HubSpot answers creates in input order, so the results fill the
        # inputs that have neither a result nor an error, in order. Marking a record that was
        # created as failed would invite a second create.
        free = [i for i in range(len(keys)) if i not in by_position]
        for pos, obj in zip(free, unplaced, strict=False):
            by_position[pos] = _succeeded(start + pos, obj, op, object_type, created=True)
    missing = RecordFailure.of(
        Category.UNKNOWN, "NO_RESULT", "HubSpot returned no result for this input"
    )
    return [
        by_position.get(i)
        or WriteResult(start + i, False, keys[i] if op != "create" else None, failure=missing)
        for i in range(len(keys))
    ]


def _succeeded(
    index: int, obj: Mapping[str, Any], op: str, object_type: str | None, *, created: bool
) -> WriteResult:
    """The WriteResult of one result object of a batch answer."""
    return WriteResult(
        index,
        True,
        str(obj.get("id")),
        created=created,
        record=_stored(obj, op, object_type),
        modified_at=_landed(obj, object_type),
    )


def _stored(obj: Mapping[str, Any], op: str, object_type: str | None) -> RemoteRecord | None:
    """The created record as HubSpot stored it (the answer's properties), for creates."""
    if op != "create" or object_type is None or obj.get("id") is None:
        return None
    return record_from_wire(obj, object_type)


def _landed(obj: Mapping[str, Any], object_type: str | None) -> int | None:
    """When HubSpot says the write landed: the record's last-modified stamp in the answer."""
    if object_type is None or obj.get("id") is None:
        return None
    return record_from_wire(obj, object_type).modified_at or None


def _position(
    obj: Mapping[str, Any],
    keys: list[str],
    position_of_key: dict[str, int],
    start: int,
    id_property: str | None,
) -> int | None:
    trace = obj.get("objectWriteTraceId")
    if trace is not None and str(trace).isdigit() and 0 <= int(trace) - start < len(keys):
        return int(trace) - start
    if id_property:
        value = (obj.get("properties") or {}).get(id_property)
        if value is not None and str(value).lower() in position_of_key:
            return position_of_key[str(value).lower()]
    rid = str(obj.get("id", "")).lower()
    return position_of_key.get(rid)


def failed_association_ids(body: Mapping[str, Any]) -> dict[str, RecordFailure]:
    """Ids named by the errors of a 207 association answer -> their failure."""
    out: dict[str, RecordFailure] = {}
    for error in body.get("errors") or ():
        base = hs_errors.record_failure(error)
        failure = RecordFailure.of(Category.ASSOCIATION, base.api_code, base.message)
        for values in (error.get("context") or {}).values():
            for value in values or ():
                out[str(value)] = failure
    return out
