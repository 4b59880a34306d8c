"""The JSON codec: canonical values read back equal, and of the same type, as written."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hubforce.store.codec import dumps, dumps_snapshot, loads, loads_snapshot

canonical = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.text(max_size=12),
    st.decimals(allow_nan=False, allow_infinity=False, places=None),
    st.lists(st.text(max_size=6), unique=True, max_size=4).map(lambda xs: tuple(sorted(xs))),
)


@settings(derandomize=True, max_examples=100)
@given(st.dictionaries(st.text(max_size=8), canonical, max_size=8))
def test_snapshots_of_canonical_values_round_trip_exactly(snapshot: dict[str, Any]) -> None:
    back = loads(dumps(snapshot))

    assert back == snapshot
    for key, value in snapshot.items():
        assert type(back[key]) is type(value)
        if isinstance(value, Decimal):
            assert str(back[key]) == str(value)  # 1.50 stays 1.50, not 1.5


def test_other_python_values_round_trip_with_their_types() -> None:
    value = {
        "d": date(2026, 11, 28),
        "dt": datetime(2026, 11, 28, 21, 0, tzinfo=UTC),
        "set": frozenset({"b", "a"}),
        "nested": [1, {"x": (1, 2)}],
        "unicode": "Zoë — 東京",
    }

    assert loads(dumps(value)) == value
    assert '"$set":["a","b"]' in dumps({"s": {"b", "a"}})  # stored sorted: stable text


def test_booleans_stay_distinct_from_integers() -> None:
    back = loads(dumps({"flag": True, "count": 1}))

    assert back["flag"] is True
    assert type(back["count"]) is int


def test_values_without_a_canonical_form_are_refused() -> None:
    with pytest.raises(TypeError, match="cannot store a object"):
        dumps({"x": object()})


@settings(derandomize=True, max_examples=100)
@given(
    st.dictionaries(st.sampled_from("abcdef"), canonical, max_size=6),
    st.dictionaries(st.sampled_from("abcdef"), canonical, max_size=6),
    st.booleans(),
)
def test_snapshots_of_both_sides_round_trip_exactly(
    hubspot: dict[str, Any], salesforce: dict[str, Any], same: bool
) -> None:
    if same:
        salesforce = dict(hubspot)

    back_hubspot, back_salesforce = loads_snapshot(dumps_snapshot(hubspot, salesforce))

    for expected, back in ((hubspot, back_hubspot), (salesforce, back_salesforce)):
        assert back == expected
        assert {k: type(v) for k, v in back.items()} == {k: type(v) for k, v in expected.items()}


def test_equal_sides_are_stored_once_and_read_back_as_independent_dicts() -> None:
    values = {"email": "a@b.c", "tags": ("x", "y"), "amount": Decimal("2.50")}

    text = dumps_snapshot(values, dict(values))
    hubspot, salesforce = loads_snapshot(text)

    assert text.count("a@b.c") == 1
    assert hubspot == salesforce == values
    salesforce["email"] = "changed"
    assert hubspot["email"] == "a@b.c"


def test_a_true_and_a_one_are_different_snapshot_values() -> None:
    _, salesforce = loads_snapshot(dumps_snapshot({"flag": True}, {"flag": 1}))

    assert type(salesforce["flag"]) is int
