"""The CRM search API: filter groups, one sort, offset paging, the 10,000 cap and index lag.

Filters in a group are AND-ed, groups OR-ed. A search sorted on the object's modified-date
property reads the per-object `ModifiedIndex` in order, so the incremental-sync query
(`lastmodifieddate >= t`, ascending) never sorts or scans the whole portal.

Index lag: for `index_lag_ms` after a write, search still sees the record as it was before
(a new record not at all), like HubSpot's eventually consistent index; reads by id are current.
While writes are lagging, search scans snapshots instead of using the index.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from hubforce.emulators.hubspot.exceptions import BadRequest, SearchPagingCap
from hubforce.emulators.hubspot.properties import MODIFIED_PROPERTY, PropertyDef, parse_datetime_ms
from hubforce.emulators.hubspot.store import Record

if TYPE_CHECKING:
    from hubforce.emulators.hubspot.models import Portal

MAX_RESULTS = 10_000
MAX_LIMIT = 200
RANGE_OPS = {"LT", "LTE", "GT", "GTE", "BETWEEN", "EQ"}
OPERATORS = RANGE_OPS | {
    "NEQ",
    "IN",
    "NOT_IN",
    "HAS_PROPERTY",
    "NOT_HAS_PROPERTY",
    "CONTAINS_TOKEN",
    "NOT_CONTAINS_TOKEN",
}
SEARCHABLE = {
    "contacts": (
        "firstname",
        "lastname",
        "email",
        "phone",
        "hs_additional_emails",
        "fax",
        "mobilephone",
        "company",
    ),
    "companies": ("website", "phone", "name", "domain"),
    "deals": ("dealname", "pipeline", "dealstage", "description", "dealtype"),
}
TOKEN_SPLIT = re.compile(r"[^0-9a-zA-Z]+")
Predicate = Callable[[Record], bool]


@dataclass
class SearchRequest:
    """A parsed `PublicObjectSearchRequest`."""

    groups: list[list[dict[str, Any]]]
    sort_property: str | None
    descending: bool
    query: str
    properties: list[str] | None
    limit: int
    after: int


def _sort_rule(sorts: Any) -> tuple[str | None, bool]:
    if not sorts:
        return None, False
    if not isinstance(sorts, list):
        raise BadRequest("sorts must be a list")
    if len(sorts) > 1:
        raise BadRequest(f"Only one sort rule is supported; got {len(sorts)}")
    rule = sorts[0]
    if isinstance(rule, str):
        return rule.lstrip("-"), rule.startswith("-")
    if isinstance(rule, dict) and isinstance(rule.get("propertyName"), str):
        direction = str(rule.get("direction", "ASCENDING")).upper()
        if direction not in ("ASCENDING", "DESCENDING"):
            raise BadRequest(f"Invalid sort direction {direction}; use ASCENDING or DESCENDING")
        return rule["propertyName"], direction == "DESCENDING"
    raise BadRequest("each sort must be a property name or {propertyName, direction}")


def parse_request(body: Any) -> SearchRequest:
    """Validate a search body; 400 VALIDATION_ERROR for anything HubSpot would reject."""
    if not isinstance(body, dict):
        raise BadRequest("Invalid input JSON: the search request must be an object")
    groups_raw = body.get("filterGroups") or []
    if not isinstance(groups_raw, list) or len(groups_raw) > 5:
        raise BadRequest("Too many filter groups: up to 5 filterGroups are allowed")
    groups: list[list[dict[str, Any]]] = []
    total = 0
    for group in groups_raw:
        filters = group.get("filters") if isinstance(group, dict) else None
        if not isinstance(filters, list):
            raise BadRequest("each filter group needs a `filters` list")
        if len(filters) > 6:
            raise BadRequest("Too many filters in a group: up to 6 filters per group are allowed")
        total += len(filters)
        for f in filters:
            if not isinstance(f, dict) or not isinstance(f.get("propertyName"), str):
                raise BadRequest("each filter needs a propertyName")
            if f.get("operator") not in OPERATORS:
                raise BadRequest(
                    f"Invalid filter operator {f.get('operator')!r}; one of {sorted(OPERATORS)}"
                )
        groups.append(filters)
    if total > 18:
        raise BadRequest("Too many filters: up to 18 filters in total are allowed")
    sort_property, descending = _sort_rule(body.get("sorts"))
    query = body.get("query") or ""
    if not isinstance(query, str) or len(query) > 3000:
        raise BadRequest("query must be a string of at most 3000 characters")
    limit = body.get("limit", 10)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
        raise BadRequest("limit must be a non-negative integer")
    if limit > MAX_LIMIT:
        raise BadRequest(f"limit must be less than or equal to {MAX_LIMIT}, got {limit}")
    after_raw = body.get("after") or "0"
    try:
        after = int(str(after_raw))
    except ValueError:
        raise BadRequest(f"after must be formatted as an integer, got {after_raw!r}") from None
    if after < 0:
        raise BadRequest("after must not be negative")
    if after >= MAX_RESULTS:
        raise SearchPagingCap(
            f"Paging beyond {MAX_RESULTS} results is not supported (after={after}); "
            "narrow the filters, e.g. move the lastmodifieddate window"
        )
    properties = body.get("properties")
    if properties is not None and not isinstance(properties, list):
        raise BadRequest("properties must be a list of property names")
    limit = min(limit, MAX_RESULTS - after)  # no result past the 10,000th is ever returned
    return SearchRequest(groups, sort_property, descending, query, properties, limit, after)


def _number(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def _key_fn(prop: PropertyDef | None, object_type: str) -> Callable[[Record], Any]:
    """Typed value of a property for comparisons and sorting (None when blank)."""
    name = prop.name if prop else ""
    if name == MODIFIED_PROPERTY[object_type]:
        return lambda r: r.updated_ms
    if name == "createdate":
        return lambda r: r.created_ms
    if name == "hs_object_id":
        return lambda r: r.id
    kind = prop.type if prop else "string"

    def value(record: Record) -> Any:
        raw = record.properties.get(name)
        if raw is None:
            return None
        if kind == "number":
            return _number(raw)
        if kind in ("date", "datetime"):
            return parse_datetime_ms(raw)
        if kind == "enumeration" or kind == "bool":
            return raw
        return raw.lower()

    return value


def _operand(prop: PropertyDef | None, text: Any) -> Any:
    raw = "" if text is None else str(text)
    kind = prop.type if prop else "string"
    if prop and prop.name == "hs_object_id":
        return int(raw) if raw.isdigit() else None
    if kind == "number":
        return _number(raw)
    if kind in ("date", "datetime"):
        return parse_datetime_ms(raw)
    if kind in ("enumeration", "bool"):
        return raw
    return raw.lower()


def _compile_filter(portal: Portal, object_type: str, f: dict[str, Any]) -> Predicate:
    name, op = f["propertyName"], f["operator"]
    if name.startswith("associations."):
        to_type = portal.object_type(name.split(".", 1)[1])
        wanted = str(f.get("value", ""))
        return lambda r: (
            wanted.isdigit()
            and int(wanted) in portal.associations.targets(object_type, r.id, to_type)
        )
    prop = portal.catalogue[object_type].get(name)
    key = _key_fn(prop, object_type)
    if op == "HAS_PROPERTY":
        return lambda r: key(r) is not None
    if op == "NOT_HAS_PROPERTY":
        return lambda r: key(r) is None
    if op in ("IN", "NOT_IN"):
        values = f.get("values") or []
        multi = bool(prop and prop.field_type == "checkbox")
        if prop and prop.type == "string":  # string IN needs lowercase values, like HubSpot's
            wanted_set = {str(v) for v in values}
        else:
            wanted_set = {_operand(prop, v) for v in values}

        def member(r: Record) -> bool:
            got = key(r)
            if got is None:
                return False
            if multi:
                return any(part in wanted_set for part in str(got).split(";"))
            return got in wanted_set

        return member if op == "IN" else (lambda r: not member(r))
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        needle = str(f.get("value", "")).lower()

        def contains(r: Record) -> bool:
            raw = r.properties.get(name)
            if raw is None:
                return False
            text = raw.lower()
            if "*" in needle:
                return fnmatch.fnmatchcase(text, needle) or any(
                    fnmatch.fnmatchcase(t, needle) for t in text.split()
                )
            return needle == text or needle in TOKEN_SPLIT.split(text)

        return contains if op == "CONTAINS_TOKEN" else (lambda r: not contains(r))
    low = _operand(prop, f.get("value"))
    if op == "BETWEEN":
        high = _operand(prop, f.get("highValue"))
        return lambda r: (v := key(r)) is not None and low is not None and low <= v <= high
    if op == "NEQ":
        return lambda r: key(r) != low
    compare: dict[str, Callable[[Any, Any], bool]] = {
        "EQ": lambda v, w: bool(v == w),
        "LT": lambda v, w: bool(v < w),
        "LTE": lambda v, w: bool(v <= w),
        "GT": lambda v, w: bool(v > w),
        "GTE": lambda v, w: bool(v >= w),
    }
    test = compare[op]
    return lambda r: (v := key(r)) is not None and low is not None and test(v, low)


def _modified_range(
    groups: list[list[dict[str, Any]]], modified: str
) -> tuple[int | None, int | None]:
    """Index bounds implied by range filters on the modified property of a single group."""
    low: int | None = None
    high: int | None = None
    if len(groups) != 1:
        return None, None
    for f in groups[0]:
        if f["propertyName"] != modified or f["operator"] not in RANGE_OPS:
            continue
        value = parse_datetime_ms(str(f.get("value", "")))
        if value is None:
            continue
        op = f["operator"]
        if op in ("GT", "GTE", "EQ", "BETWEEN"):
            low = value if low is None else max(low, value)
        if op in ("LT", "LTE", "EQ"):
            high = value if high is None else min(high, value)
        if op == "BETWEEN":
            top = parse_datetime_ms(str(f.get("highValue", "")))
            if top is not None:
                high = top if high is None else min(high, top)
    return low, high


def run_search(portal: Portal, object_type: str, req: SearchRequest) -> tuple[int, list[Record]]:
    """(total matches, the requested page of records)."""
    store = portal.stores[object_type]
    modified = MODIFIED_PROPERTY[object_type]
    groups = [[_compile_filter(portal, object_type, f) for f in g] for g in req.groups]
    store.settle(portal.clock.now_ms())
    lagging = bool(store.lagged)  # some writes are not searchable yet: read snapshots
    query = req.query.lower()
    fields = SEARCHABLE[object_type]

    def matches(r: Record) -> bool:
        if query and not any(query in r.properties.get(n, "").lower() for n in fields):
            return False
        return not groups or any(all(p(r) for p in g) for g in groups)

    candidates: Iterable[Record]
    if req.sort_property == modified and not lagging:
        low, high = _modified_range(req.groups, modified)
        start, stop = store.modified.range(low, high)
        keys = store.modified.keys
        ordered: Iterator[int] = (
            (keys[i][1] for i in range(stop - 1, start - 1, -1))
            if req.descending
            else (keys[i][1] for i in range(start, stop))
        )
        only_range = (
            len(req.groups) == 1
            and all(
                f["propertyName"] == modified and f["operator"] in RANGE_OPS - {"EQ"}
                for f in req.groups[0]
            )
            and not query
        )
        if only_range or (not req.groups and not query):
            total = stop - start
            page_keys = keys[start:stop]
            if req.descending:
                page_keys = page_keys[::-1]
            return total, [
                store.records[k[1]] for k in page_keys[req.after : req.after + req.limit]
            ]
        candidates = (store.records[i] for i in ordered)
    else:
        live: list[Record] | Iterator[Record] = (
            store.searchable() if lagging else (r for r in store.records.values() if not r.archived)
        )
        if req.sort_property:
            prop = portal.catalogue[object_type].get(req.sort_property)
            key = _key_fn(prop, object_type)
            everything = list(live)
            present = [r for r in everything if key(r) is not None]
            missing = [r for r in everything if key(r) is None]
            present.sort(key=lambda r: (key(r), r.id), reverse=req.descending)
            candidates = [*present, *missing]
        else:
            candidates = live
    total = 0
    page: list[Record] = []
    end = req.after + req.limit
    for record in candidates:
        if matches(record):
            if req.after <= total < end:
                page.append(record)
            total += 1
    return total, page
