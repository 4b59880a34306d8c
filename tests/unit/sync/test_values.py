"""Canonical values: both sides' forms of one meaning compare equal; JSON round-trips exactly."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hubforce.sync import values as v
from hubforce.sync.model import CanonicalValue


def test_blank_forms_are_one_blank() -> None:
    assert v.to_string(None) is None
    assert v.to_string("") is None
    assert v.to_string("  \n ") is None
    assert v.to_number("") is None
    assert v.to_date("") is None
    assert v.to_datetime_ms(None) is None
    assert v.to_multi("") is None
    assert v.to_multi(";;") is None


def test_text_is_stripped_and_line_ends_normalised() -> None:
    assert v.to_string("  Acme\r\nLtd \r") == "Acme\nLtd"


def test_email_is_lower_cased() -> None:
    assert v.to_email(" Ann.Lee@Example.COM ") == "ann.lee@example.com"


@pytest.mark.parametrize("raw", ["10", "10.0", "10.00", 10, 10.0, Decimal("1E+1"), " 10 "])
def test_numbers_of_one_value_are_equal(raw: object) -> None:
    assert v.to_number(raw) == Decimal(10)
    assert v.format_decimal(v.to_number(raw) or Decimal(-1)) == "10"


def test_float_noise_is_gone() -> None:
    assert v.to_number(0.1) == Decimal("0.1")
    assert v.to_number(1234.5) == v.to_number("1234.50")
    assert v.format_decimal(Decimal("2.50")) == "2.5"
    assert v.to_number("-0.0") == Decimal(0)


@pytest.mark.parametrize("raw", [True, "abc", float("nan"), float("inf"), "NaN", [1]])
def test_not_a_number_is_refused(raw: object) -> None:
    with pytest.raises(v.ConversionError):
        v.to_number(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(True, True), ("true", True), ("TRUE", True), ("false", False), (False, False), (None, False)],
)
def test_booleans(raw: object, expected: bool) -> None:
    assert v.to_boolean(raw) is expected


def test_boolean_refuses_garbage() -> None:
    with pytest.raises(v.ConversionError):
        v.to_boolean("maybe")


def test_datetimes_from_both_sides_are_equal() -> None:
    hubspot_ms = "1705521304281"
    hubspot_iso = "2024-01-17T19:55:04.281Z"
    salesforce = "2024-01-17T19:55:04.281+0000"
    offset = "2024-01-17T20:55:04.281+01:00"
    expected = 1705521304281
    assert {v.to_datetime_ms(x) for x in (hubspot_ms, hubspot_iso, salesforce, offset)} == {
        expected
    }
    assert v.iso_from_ms(expected) == hubspot_iso


def test_dates_from_both_sides_are_equal() -> None:
    assert v.to_date("1430438400000") == "2015-05-01"  # HubSpot midnight-UTC ms
    assert v.to_date("2015-05-01") == "2015-05-01"
    assert v.to_date("2015-05-01T00:00:00.000Z") == "2015-05-01"
    assert v.ms_from_date("2015-05-01") == 1430438400000


def test_bad_date_is_refused() -> None:
    with pytest.raises(v.ConversionError):
        v.to_date("2015-13-45")
    with pytest.raises(v.ConversionError):
        v.to_datetime_ms("yesterday at noon")


def test_multi_select_is_sorted_and_distinct() -> None:
    assert v.to_multi("b;a;;b") == ("a", "b")
    assert v.to_multi(["b", " a "]) == ("a", "b")


canonical_values = st.one_of(
    st.none(),
    st.text(min_size=1).map(str.strip).filter(bool),
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.decimals(allow_nan=False, allow_infinity=False, places=6).map(
        lambda d: v.to_number(d) or Decimal(0)
    ),
    st.lists(st.text(min_size=1, alphabet="abcxyz_"), max_size=4).map(
        lambda xs: tuple(sorted(set(xs)))
    ),
)


@given(canonical_values)
def test_json_round_trip_is_exact(value: CanonicalValue) -> None:
    encoded = json.loads(json.dumps(v.encode_value(value)))
    back = v.decode_value(encoded)
    assert back == value
    assert type(back) is type(value)


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_number_wire_forms_agree(number: Decimal) -> None:
    canonical = v.to_number(number)
    assert canonical is not None
    text = v.format_decimal(canonical)
    assert "E" not in text and "e" not in text
    assert v.to_number(text) == canonical  # HubSpot's string form reads back the same


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1)))
def test_datetime_wire_forms_agree(moment: datetime) -> None:
    ms = v.to_datetime_ms(moment.replace(tzinfo=UTC))
    assert ms is not None
    iso = v.iso_from_ms(ms)
    salesforce = iso[:-1] + "+0000"
    assert v.to_datetime_ms(iso) == ms
    assert v.to_datetime_ms(salesforce) == ms
    assert v.to_datetime_ms(str(ms)) == ms


@given(st.dates(min_value=datetime(1971, 1, 1).date()))
def test_date_wire_forms_agree(day: object) -> None:
    iso = str(day)
    assert v.to_date(str(v.ms_from_date(iso))) == iso
    assert v.to_date(iso) == iso


@given(st.text())
def test_string_canonical_is_idempotent(text: str) -> None:
    once = v.to_string(text)
    assert v.to_string(once) == once
