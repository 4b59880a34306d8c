"""The condition language: examples, errors, and hypothesis against a tiny reference."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hubforce.workflows.conditions import ConditionError, matches, parse_condition

SEED = 'lifecyclestage = "lead" and hs_analytics_source in ("ORGANIC_SEARCH", "PAID_SEARCH")'


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"lifecyclestage": "lead", "hs_analytics_source": "PAID_SEARCH"}, True),
        ({"lifecyclestage": "lead", "hs_analytics_source": "DIRECT_TRAFFIC"}, False),
        ({"lifecyclestage": "customer", "hs_analytics_source": "PAID_SEARCH"}, False),
        ({"lifecyclestage": "lead"}, False),
    ],
)
def test_seed_condition(record: dict[str, str], expected: bool) -> None:
    assert matches(SEED, record) is expected


@pytest.mark.parametrize(
    ("text", "record", "expected"),
    [
        ("amount > 1000", {"amount": "1500.5"}, True),
        ("amount > 1000", {"amount": "999"}, False),
        ("amount > 1000", {"amount": "lots"}, False),
        ("amount != 1000", {"amount": "lots"}, True),
        ("phone is empty", {"phone": ""}, True),
        ("phone is empty", {}, True),
        ("phone is not empty", {"phone": "+1"}, True),
        ("NOT (a = 'x') OR b = \"y\"", {"a": "x", "b": "y"}, True),
        ("not a = 'x'", {"a": "x"}, False),
        ("stage not in ('closedwon', 'closedlost')", {"stage": "qualified"}, True),
        ("email = 'it''s'", {"email": "x"}, False),
        ('name = "say \\"hi\\""', {"name": 'say "hi"'}, True),
        ("hs_email_optout = true", {"hs_email_optout": "true"}, True),
        ("hs_email_optout = false", {"hs_email_optout": ""}, True),
        ("a.b = 'dot'", {"a.b": "dot"}, True),
        ("", {}, True),
    ],
)
def test_examples(text: str, record: dict[str, str], expected: bool) -> None:
    if text == "email = 'it''s'":
        with pytest.raises(ConditionError):
            parse_condition(text)
        return
    assert matches(text, record) is expected


@pytest.mark.parametrize(
    "text",
    ["a =", "a = = 1", "(a = 1", "a in ()", "__import__('os')", "a = 1; b = 2", "a == 1", "and"],
)
def test_malformed_conditions_raise_a_clear_error(text: str) -> None:
    with pytest.raises(ConditionError, match="invalid condition"):
        parse_condition(text)


def test_names_cannot_call_or_reach_attributes() -> None:
    # A call or a subscript is a syntax error, not an evaluation: nothing but fields is read.
    for text in ("a.__class__()", "a[0] = 1", "open('x') = 1"):
        with pytest.raises(ConditionError):
            parse_condition(text)


# -- hypothesis: random expressions against a reference evaluator ---------------------------

FIELDS = ("a", "b", "c")
VALUES = ("x", "y", "", "1", "2")
Ref = Callable[[Mapping[str, str]], bool]


def _quote(value: str) -> str:
    return f'"{value}"'


@st.composite
def leaf(draw: st.DrawFn) -> tuple[str, Ref]:
    name = draw(st.sampled_from(FIELDS))
    kind = draw(st.sampled_from(["eq", "ne", "in", "empty"]))
    if kind == "in":
        options = draw(st.lists(st.sampled_from(VALUES), min_size=1, max_size=3))
        text = f"{name} in ({', '.join(_quote(v) for v in options)})"
        return text, lambda r: r.get(name, "") in options
    if kind == "empty":
        return f"{name} is empty", lambda r: r.get(name, "") == ""
    value = draw(st.sampled_from(VALUES))
    if kind == "eq":
        return f"{name} = {_quote(value)}", lambda r: r.get(name, "") == value
    return f"{name} != {_quote(value)}", lambda r: r.get(name, "") != value


def _combine(children: st.SearchStrategy[tuple[str, Ref]]) -> st.SearchStrategy[tuple[str, Ref]]:
    def build_and(pair: tuple[tuple[str, Ref], tuple[str, Ref]]) -> tuple[str, Ref]:
        (lt, lf), (rt, rf) = pair
        return f"({lt}) and ({rt})", lambda r: lf(r) and rf(r)

    def build_or(pair: tuple[tuple[str, Ref], tuple[str, Ref]]) -> tuple[str, Ref]:
        (lt, lf), (rt, rf) = pair
        return f"({lt}) or ({rt})", lambda r: lf(r) or rf(r)

    def build_not(item: tuple[str, Ref]) -> tuple[str, Ref]:
        text, fn = item
        return f"not ({text})", lambda r: not fn(r)

    return st.one_of(
        st.tuples(children, children).map(build_and),
        st.tuples(children, children).map(build_or),
        children.map(build_not),
    )


expressions = st.recursive(leaf(), _combine, max_leaves=8)
records = st.dictionaries(st.sampled_from(FIELDS), st.sampled_from(VALUES))


@settings(max_examples=300, deadline=None, derandomize=True)
@given(expressions, records)
def test_matches_reference(expression: tuple[str, Ref], record: dict[str, str]) -> None:
    text, reference = expression
    assert matches(text, record) is reference(record)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(expressions, records)
def test_precedence_without_parentheses(
    expression: tuple[str, Ref], record: dict[str, str]
) -> None:
    # "a or b and c" binds as "a or (b and c)", like SQL and Python.
    text, reference = expression
    combined = f'a = "x" or ({text}) and b = "y"'
    expected = record.get("a", "") == "x" or (reference(record) and record.get("b", "") == "y")
    assert matches(combined, record) is expected
