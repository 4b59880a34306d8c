"""Written values: normalisation to the stored form and the errors Salesforce gives."""

from __future__ import annotations

import pytest

from hubforce.emulators.salesforce.exceptions import (
    InvalidEmailAddress,
    InvalidOrNullForRestrictedPicklist,
    JsonParserError,
    StringTooLong,
)
from hubforce.emulators.salesforce.schema import FieldSchema, standard_objects
from hubforce.emulators.salesforce.values import coerce_value, parse_datetime, wire_datetime

OBJECTS = standard_objects()


def field(sobject: str, name: str) -> FieldSchema:
    return OBJECTS[sobject].field(name)


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("2024-05-01T10:20:30Z", "2024-05-01T10:20:30.000+0000"),
        ("2024-05-01T12:20:30.123+02:00", "2024-05-01T10:20:30.000+0000"),
        ("2024-05-01T10:20:30.000+0000", "2024-05-01T10:20:30.000+0000"),
        ("2024-05-01T05:20:30-0500", "2024-05-01T10:20:30.000+0000"),
    ],
)
def test_datetimes_are_stored_as_fixed_width_utc(raw: str, stored: str) -> None:
    fs = field("Lead", "SystemModstamp")
    assert coerce_value(fs, raw) == stored
    assert wire_datetime(parse_datetime(raw)) == stored


def test_numbers_dates_booleans_and_blanks() -> None:
    assert coerce_value(field("Lead", "NumberOfEmployees"), "12") == 12
    assert coerce_value(field("Lead", "AnnualRevenue"), 10.5) == 10.5
    assert coerce_value(field("Opportunity", "CloseDate"), "2026-02-28") == "2026-02-28"
    assert coerce_value(field("Lead", "DoNotCall"), True) is True
    assert coerce_value(field("Lead", "Title"), "") is None
    with pytest.raises(JsonParserError):
        coerce_value(field("Lead", "DoNotCall"), "yes")
    with pytest.raises(JsonParserError):
        coerce_value(field("Opportunity", "CloseDate"), "2026-02-30")
    with pytest.raises(JsonParserError):
        coerce_value(field("Lead", "NumberOfEmployees"), "many")


def test_text_checks_name_the_field() -> None:
    with pytest.raises(StringTooLong) as long_value:
        coerce_value(field("Lead", "FirstName"), "x" * 41)
    assert long_value.value.fields == ["FirstName"]
    assert "(max length=40)" in long_value.value.message
    with pytest.raises(InvalidEmailAddress) as email:
        coerce_value(field("Lead", "Email"), "a@b")
    assert email.value.message == "Email: invalid email address: a@b"
    with pytest.raises(InvalidOrNullForRestrictedPicklist):
        coerce_value(field("Opportunity", "StageName"), "Won-ish")
    assert coerce_value(field("Lead", "Industry"), "Space Mining") == "Space Mining"  # open list
