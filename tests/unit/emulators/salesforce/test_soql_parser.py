"""SOQL parser: the syntax tree for good queries and the API's messages for bad ones."""

from __future__ import annotations

import pytest

from hubforce.emulators.salesforce.soql import MalformedQueryError, ast, parse_soql


def test_parses_fields_parent_paths_and_from() -> None:
    query = parse_soql("SELECT Id, Owner.Email, account.owner.name FROM Lead")
    assert [f.parts for f in query.fields] == [
        ("Id",),
        ("Owner", "Email"),
        ("account", "owner", "name"),
    ]
    assert query.sobject == "Lead"
    assert query.sobject_pos == ast.Position(1, 49)
    assert query.count is False
    assert (query.where, query.order_by, query.limit, query.offset) == (None, (), None, None)


def test_keywords_are_case_insensitive() -> None:
    query = parse_soql(
        "select id from lead where name like 'a%' order by name desc limit 5 offset 2"
    )
    assert query.fields[0].parts == ("id",)
    assert query.where == ast.Comparison(
        ast.FieldPath(("name",), ast.Position(1, 27)),
        "LIKE",
        ast.StringLit("a%", ast.Position(1, 37)),
    )
    assert query.order_by[0].descending is True
    assert (query.limit, query.offset) == (5, 2)


def test_count_query() -> None:
    query = parse_soql("SELECT COUNT() FROM Lead WHERE Email != null")
    assert query.count is True
    assert query.fields == ()


def test_and_or_not_and_parentheses_nest() -> None:
    query = parse_soql(
        "SELECT Id FROM Lead WHERE (A = 1 OR B = 2) AND NOT C = 3 AND D NOT IN ('x', 'y')"
    )
    where = query.where
    assert isinstance(where, ast.And)
    first, second, third = where.operands
    assert isinstance(first, ast.Or) and len(first.operands) == 2
    assert isinstance(second, ast.Not) and isinstance(second.operand, ast.Comparison)
    assert isinstance(third, ast.InList) and third.negated
    assert [v.raw for v in third.values if isinstance(v, ast.StringLit)] == ["x", "y"]


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ("'it\\'s'", ast.StringLit("it\\'s", ast.Position(1, 31))),
        ("42", ast.NumberLit(42, ast.Position(1, 31))),
        ("-2.5", ast.NumberLit(-2.5, ast.Position(1, 31))),
        ("TRUE", ast.BoolLit(True, ast.Position(1, 31))),
        ("false", ast.BoolLit(False, ast.Position(1, 31))),
        ("NULL", ast.NullLit(ast.Position(1, 31))),
        ("2024-01-31", ast.DateLit("2024-01-31", ast.Position(1, 31))),
        ("2024-01-31T10:00:00Z", ast.DateTimeLit("2024-01-31T10:00:00Z", ast.Position(1, 31))),
        (
            "2024-01-31T10:00:00.250-08:00",
            ast.DateTimeLit("2024-01-31T10:00:00.250-08:00", ast.Position(1, 31)),
        ),
        ("TODAY", ast.RelativeDate("TODAY", None, ast.Position(1, 31))),
        ("last_n_days:30", ast.RelativeDate("LAST_N_DAYS", 30, ast.Position(1, 31))),
    ],
)
def test_literals(literal: str, expected: ast.Value) -> None:
    query = parse_soql(f"SELECT Id FROM Lead WHERE X = {literal}")
    assert isinstance(query.where, ast.Comparison)
    assert query.where.value == expected


@pytest.mark.parametrize("op", ["=", "!=", "<", "<=", ">", ">="])
def test_comparison_operators(op: str) -> None:
    query = parse_soql(f"SELECT Id FROM Lead WHERE Score {op} 3")
    assert isinstance(query.where, ast.Comparison)
    assert query.where.op == op


def test_angle_brackets_mean_not_equal() -> None:
    query = parse_soql("SELECT Id FROM Lead WHERE Score <> 3")
    assert isinstance(query.where, ast.Comparison)
    assert query.where.op == "!="


def test_order_by_directions_and_nulls() -> None:
    query = parse_soql(
        "SELECT Id FROM Lead ORDER BY Name, Score DESC, Email ASC NULLS LAST, Born DESC NULLS FIRST"
    )
    assert [(k.field.text, k.descending, k.nulls_first) for k in query.order_by] == [
        ("Name", False, None),
        ("Score", True, None),
        ("Email", False, False),
        ("Born", True, True),
    ]


def test_first_word_wrong_gives_the_bare_message() -> None:
    with pytest.raises(MalformedQueryError) as exc:
        parse_soql("invalid")
    assert exc.value.message == "unexpected token: 'invalid'"
    assert exc.value.error_code == "MALFORMED_QUERY"


def test_misspelled_keyword_points_at_the_token() -> None:
    with pytest.raises(MalformedQueryError) as exc:
        parse_soql("SELECT Id FORM Lead")
    assert exc.value.message == (
        "\nSELECT Id FORM Lead\n          ^\nERROR at Row:1:Column:11\nunexpected token: 'FORM'"
    )


def test_missing_object_reports_end_of_input() -> None:
    with pytest.raises(MalformedQueryError) as exc:
        parse_soql("SELECT Id FROM")
    assert exc.value.message.endswith("ERROR at Row:1:Column:15\nunexpected token: '<EOF>'")


def test_and_or_mix_needs_parentheses() -> None:
    with pytest.raises(MalformedQueryError) as exc:
        parse_soql("SELECT Id FROM Lead WHERE A = 1 AND B = 2 OR C = 3")
    assert exc.value.message.endswith("Column:43\nunexpected token: 'OR'")


def test_count_with_order_by_is_rejected() -> None:
    with pytest.raises(MalformedQueryError) as exc:
        parse_soql("SELECT COUNT() FROM Lead ORDER BY Id")
    assert exc.value.message.endswith("ORDER BY not allowed with COUNT()")


def test_offset_above_2000_is_rejected() -> None:
    with pytest.raises(MalformedQueryError) as exc:
        parse_soql("SELECT Id FROM Lead OFFSET 2001")
    assert exc.value.message.endswith("Maximum SOQL offset allowed is 2000")


@pytest.mark.parametrize(
    ("text", "token"),
    [
        ("SELECT Id FROM Lead WHERE Name = 'open", "'"),
        ("SELECT Id FROM Lead WHERE Name = #", "#"),
        ("SELECT Id FROM Lead LIMIT 'x'", "'x'"),
        ("SELECT FROM Lead", "FROM"),
        ("SELECT Id, FROM Lead", "FROM"),
        ("SELECT Id FROM Lead WHERE", "<EOF>"),
        ("SELECT Id FROM Lead WHERE Name IN ()", ")"),
    ],
)
def test_syntax_errors_name_the_token(text: str, token: str) -> None:
    with pytest.raises(MalformedQueryError) as exc:
        parse_soql(text)
    assert exc.value.message.endswith(f"unexpected token: '{token}'")
    assert "\nERROR at Row:1:Column:" in exc.value.message


def test_long_query_shows_a_window_with_the_caret_under_the_token() -> None:
    text = "SELECT " + ", ".join(f"Field{i}" for i in range(30)) + " FORM Lead"
    with pytest.raises(MalformedQueryError) as exc:
        parse_soql(text)
    _, excerpt, caret, where, tail = exc.value.message.split("\n")
    assert len(excerpt) <= 80
    assert excerpt[len(caret) - 1 :].startswith("FORM")
    assert where == f"ERROR at Row:1:Column:{text.index('FORM') + 1}"
    assert tail == "unexpected token: 'FORM'"


def test_empty_query() -> None:
    with pytest.raises(MalformedQueryError) as exc:
        parse_soql("   ")
    assert exc.value.message == "unexpected token: '<EOF>'"
