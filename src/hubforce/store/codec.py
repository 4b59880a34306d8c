"""The JSON codec of the store: values read back equal, and of the same type, as written.

A value read back must compare equal to the one written, or the planner would see a change
that never happened and the engine would loop. JSON lacks Decimal, tuples, dates and sets,
so `dumps` tags them ({"$dec": "1.50"}) and `loads` restores them.

Snapshots are the hot path (two per link, tens of thousands per batch), so they have their own
encoding, written by the C encoder in one pass: `[hubspot]` when both sides hold the same
values (the usual case after a sync), else `[hubspot, salesforce_diff, salesforce_missing]`.
Multi-select tuples travel as JSON lists there, which is exact because a canonical value is
never a list.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from json.encoder import encode_basestring as _quote
from typing import Any

from sqlalchemy import Dialect, Text
from sqlalchemy.types import TypeDecorator

_PLAIN = (str, int, bool, float, type(None))


def encode_value(value: Any) -> Any:
    """Turn one canonical value into a JSON-native structure, tagging non-JSON types."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is Decimal:
        return {"$dec": str(value)}
    if kind is datetime:
        return {"$dt": value.isoformat()}
    if kind is date:
        return {"$date": value.isoformat()}
    if kind in (set, frozenset):
        return {"$set": sorted((encode_value(v) for v in value), key=repr)}
    if kind is tuple:
        return {"$tuple": [encode_value(v) for v in value]}
    if kind is list:
        return [encode_value(v) for v in value]
    if kind is dict:
        return {str(k): encode_value(v) for k, v in value.items()}
    if isinstance(value, str):  # StrEnum members and other str subclasses
        return str(value)
    raise TypeError(f"cannot store a {kind.__name__} as a canonical value: {value!r}")


def _decode_tagged(obj: dict[str, Any]) -> Any:
    if len(obj) == 1:
        ((tag, inner),) = obj.items()
        if tag == "$dec":
            return Decimal(inner)
        if tag == "$dt":
            return datetime.fromisoformat(inner)
        if tag == "$date":
            return date.fromisoformat(inner)
        if tag == "$set":
            return frozenset(inner)
        if tag == "$tuple":
            return tuple(inner)
    return obj


def _tag(value: Any) -> Any:
    # Called by the C encoder only for types JSON lacks; tuples never get here (lists).
    kind = type(value)
    if kind is Decimal:
        return {"$dec": str(value)}
    if kind in (datetime, date, set, frozenset):
        return encode_value(value)
    raise TypeError(f"cannot store a {kind.__name__} as a canonical value: {value!r}")


# Built once: json.dumps/json.loads with options build a new encoder or decoder per call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_tag)
_DECODER = json.JSONDecoder(object_hook=_decode_tagged)
_C_ENCODER: Any = getattr(json.encoder, "c_make_encoder", None)


def _snapshot_encoder() -> Any:
    """`_ENCODER.encode` without its per-call set-up: `JSONEncoder.encode` builds a new C
    encoder for every value, which costs more than encoding a snapshot's few fields."""
    if _C_ENCODER is None:  # no C accelerator: the pure-Python encoder, as before
        return _ENCODER.encode
    # markers=None: no cycle check (a snapshot holds flat canonical values; a reused markers
    # dict could keep stale ids after an error); the other arguments are `_ENCODER`'s.
    iterencode = _C_ENCODER(None, _tag, _quote, None, ":", ",", False, False, True)

    def encode(value: Any) -> str:
        return "".join(iterencode(value, 0))

    return encode


_encode_snapshot = _snapshot_encoder()


def dumps(value: Any) -> str:
    """Serialise any value exactly (tuples stay tuples, lists lists) to compact JSON."""
    kind = type(value)
    if kind is str:  # the common audit value: skip the encoder's set-up
        return _quote(value)
    if kind in _PLAIN:
        return _ENCODER.encode(value)
    return _ENCODER.encode(encode_value(value))


def loads(text: str) -> Any:
    """Inverse of `dumps`: tagged objects come back as Decimal, date, frozenset, tuple..."""
    return _DECODER.decode(text)


class JsonText(TypeDecorator[Any]):
    """JSON stored as TEXT on every backend, written with `dumps` and read with `loads`."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else dumps(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else loads(value)


Values = dict[str, Any]


def _same(a: Values, b: Values) -> bool:
    # == alone would call True and 1, or 1 and Decimal(1), the same value; the types are
    # compared in C, in key order (a different order only costs an empty diff).
    return a == b and list(map(type, a.values())) == list(map(type, b.values()))


def dumps_snapshot(hubspot: Values, salesforce: Values) -> str:
    """Encode both sides' last-synced canonical values as one compact JSON text."""
    if _same(hubspot, salesforce):
        return _encode_snapshot([hubspot])  # type: ignore[no-any-return]
    diff = {
        k: v
        for k, v in salesforce.items()
        if k not in hubspot or hubspot[k] != v or type(hubspot[k]) is not type(v)
    }
    missing = [k for k in hubspot if k not in salesforce]
    return _encode_snapshot([hubspot, diff, missing])  # type: ignore[no-any-return]


def _tuples(values: Values) -> Values:
    for key, value in values.items():
        if type(value) is list:
            values[key] = tuple(value)
    return values


def loads_snapshot(text: str) -> tuple[Values, Values]:
    """Inverse of `dumps_snapshot`: (hubspot values, salesforce values)."""
    payload = _DECODER.decode(text)
    lists = "[" in text[1:]
    hubspot: Values = _tuples(payload[0]) if lists else payload[0]
    if len(payload) == 1:
        return hubspot, dict(hubspot)
    diff: Values = _tuples(payload[1]) if lists else payload[1]
    gone = set(payload[2])
    salesforce = {k: v for k, v in hubspot.items() if k not in gone}
    salesforce.update(diff)
    return hubspot, salesforce
