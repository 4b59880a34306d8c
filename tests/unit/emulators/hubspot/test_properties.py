"""Value validation for every property type, as `normalize_value` and the portal apply it."""

from __future__ import annotations

from typing import Any

import pytest

from hubforce.emulators.hubspot.properties import PropertyDef, normalize_value


def _prop(type_: str, field_type: str = "text", **kw: Any) -> PropertyDef:
    return PropertyDef("p", "P", type_, field_type, "g", hubspot_defined=False, **kw)


FLAVOURS = [
    {"label": "Chocolate", "value": "chocolate", "displayOrder": 0, "hidden": False},
    {"label": "Strawberry", "value": "strawberry", "displayOrder": 1, "hidden": False},
]


@pytest.mark.parametrize(
    ("prop", "value", "stored"),
    [
        (_prop("number", "number"), "17", "17"),
        (_prop("number", "number"), "-3.25", "-3.25"),
        (_prop("number", "number"), 42, "42"),
        (_prop("bool", "booleancheckbox"), "TRUE", "true"),
        (_prop("bool", "booleancheckbox"), False, "false"),
        (_prop("date", "date"), "2015-05-01", "2015-05-01"),
        (_prop("date", "date"), "1430438400000", "2015-05-01"),
        (_prop("datetime", "date"), "1430438400123", "2015-05-01T00:00:00.123Z"),
        (_prop("datetime", "date"), "2024-01-17T19:55:04.281Z", "2024-01-17T19:55:04.281Z"),
        (_prop("datetime", "date"), "2024-01-17T21:55:04+02:00", "2024-01-17T19:55:04.000Z"),
        (_prop("enumeration", "select", options=FLAVOURS), "chocolate", "chocolate"),
        (
            _prop("enumeration", "checkbox", options=FLAVOURS),
            "chocolate;strawberry",
            "chocolate;strawberry",
        ),
        (_prop("string"), "  spaced  ", "  spaced  "),
        (_prop("phone_number", "phonenumber"), "+1 555 0100", "+1 555 0100"),
        (_prop("number", "number"), "", ""),
    ],
)
def test_valid_values_are_stored_normalized(prop: PropertyDef, value: object, stored: str) -> None:
    assert normalize_value(prop, value) == stored


@pytest.mark.parametrize(
    ("prop", "value", "code", "words"),
    [
        (_prop("number", "number"), "12k", "INVALID_INTEGER", "not a valid number"),
        (_prop("number", "number"), "1.2.3", "INVALID_FLOAT", "not a valid number"),
        (_prop("number", "number"), " 17", "INVALID_WHITESPACE", "whitespace"),
        (_prop("bool", "booleancheckbox"), "yes", "INVALID_BOOLEAN", "true or false"),
        (_prop("date", "date"), "1430438400001", "INVALID_DATE", "midnight UTC"),
        (_prop("date", "date"), "2015-05-01T10:00:00Z", "INVALID_DATE", "midnight UTC"),
        (_prop("date", "date"), "May 1st", "INVALID_DATE", "not a valid date"),
        (_prop("datetime", "date"), "yesterday", "INVALID_DATETIME", "not a valid datetime"),
        (
            _prop("enumeration", "select", options=FLAVOURS),
            "Chocolate",
            "INVALID_OPTION",
            "Chocolate was not one of the allowed options: [chocolate, strawberry]",
        ),
        (
            _prop("enumeration", "checkbox", options=FLAVOURS),
            "chocolate;vanilla",
            "INVALID_OPTION",
            "vanilla was not one of the allowed options",
        ),
        (_prop("string"), {"nested": 1}, "INVALID_TYPE", "not a valid value"),
    ],
)
def test_invalid_values_name_the_property_and_the_reason(
    prop: PropertyDef, value: object, code: str, words: str
) -> None:
    result = normalize_value(prop, value)
    assert isinstance(result, dict)
    assert result["error"] == code
    assert result["name"] == "p"
    assert words in result["message"]


def test_email_is_lowercased_and_validated() -> None:
    email = PropertyDef("email", "Email")
    assert normalize_value(email, "Jane.Doe@Example.COM") == "jane.doe@example.com"
    bad = normalize_value(email, "not-an-email")
    assert isinstance(bad, dict)
    assert bad["message"] == "Email address not-an-email is invalid"


def test_deal_stage_checked_against_the_pipeline() -> None:
    stage = PropertyDef("dealstage", "Stage", "enumeration", "radio", external_options=True)
    stages = ("default", ["appointmentscheduled", "closedwon"])
    assert normalize_value(stage, "closedwon", stages=stages) == "closedwon"
    bad = normalize_value(stage, "registered", stages=stages)
    assert isinstance(bad, dict)
    assert bad["message"] == (
        "registered is not a valid pipeline stage ID. Valid options are: "
        "pipelineId=default : [appointmentscheduled, closedwon]"
    )
