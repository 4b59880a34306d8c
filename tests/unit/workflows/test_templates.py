"""Safe field templating."""

from __future__ import annotations

import pytest

from hubforce.workflows.templates import TemplateError, render, render_values, template_fields


def test_renders_fields_and_blanks() -> None:
    record = {"firstname": "Jane", "lastname": "Doe", "n": 3}
    assert render("{firstname} {lastname}", record) == "Jane Doe"
    assert render("{firstname} {middlename}", record) == "Jane"
    assert render("{{literal}} {n}", record) == "{literal} 3"


@pytest.mark.parametrize(
    "template",
    ["{firstname", "name}", "{0}", "{a.__class__}x{", "{a!r}", "{a:>10}", "{a[0]}", "{}"],
)
def test_anything_but_plain_fields_is_refused(template: str) -> None:
    with pytest.raises(TemplateError, match="stray"):
        template_fields(template)


def test_attribute_syntax_reads_a_field_named_with_dots_only() -> None:
    # "{a.__class__}" is a (dotted) field name, looked up as a key: never an attribute.
    assert render("{a.__class__}", {"a": "x"}) == ""


def test_render_values_leaves_non_strings() -> None:
    out = render_values(
        {"LastName": "{lastname}", "NumberOfEmployees": 5, "Flag": True}, {"lastname": "Doe"}
    )
    assert out == {"LastName": "Doe", "NumberOfEmployees": 5, "Flag": True}


def test_fallback_after_a_bar_fills_missing_or_blank_fields() -> None:
    assert render("{company|[not provided]}", {"company": "  "}) == "[not provided]"
    assert render("{company|[not provided]}", {"company": "Acme"}) == "Acme"
    assert render("{lastname|Unknown}", {}) == "Unknown"
    assert template_fields("{a|x} {b}") == ["a", "b"]
