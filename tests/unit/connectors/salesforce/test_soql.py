"""SOQL building: quoting that cannot be escaped, checked names, IN chunks within URL limits."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hubforce.connectors.salesforce import soql


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("O'Brien", r"'O\'Brien'"),
        ("back\\slash", r"'back\\slash'"),
        ("line\nbreak", r"'line\nbreak'"),
        ("x' OR Name != '", r"'x\' OR Name != \''"),
        (None, "null"),
        (True, "true"),
        (42, "42"),
        (date(2024, 1, 2), "2024-01-02"),
        (datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), "2024-01-02T03:04:05Z"),
    ],
)
def test_literals(value: object, expected: str) -> None:
    assert soql.literal(value) == expected


@given(st.text())
def test_a_quoted_string_never_closes_early(text: str) -> None:
    quoted = soql.quote(text)
    inner = quoted[1:-1]
    # Every quote inside is escaped by an odd run of backslashes.
    for i, ch in enumerate(inner):
        if ch == "'":
            run = len(inner[:i]) - len(inner[:i].rstrip("\\"))
            assert run % 2 == 1


@pytest.mark.parametrize(
    "bad", ["Name; DELETE", "Id FROM Lead--", "", "1Name", "Owner..Email", "a b"]
)
def test_identifier_rejects_anything_but_names(bad: str) -> None:
    with pytest.raises(soql.UnsafeSoql):
        soql.identifier(bad)


def test_select_builds_the_incremental_query() -> None:
    statement = soql.select(
        "Lead",
        ["Id", "Email", "Owner.Email", "Email"],
        where=f"SystemModstamp >= {soql.datetime_literal(1_704_067_200_999)}",
        order_by=("SystemModstamp ASC", "Id ASC"),
        limit=10,
    )
    assert statement == (
        "SELECT Id, Email, Owner.Email FROM Lead WHERE SystemModstamp >= 2024-01-01T00:00:00Z "
        "ORDER BY SystemModstamp ASC, Id ASC LIMIT 10"
    )


def test_chunks_respect_count_and_length() -> None:
    emails = [f"person{n}@example.com" for n in range(450)]
    chunks = list(soql.chunk_values(emails))
    assert [len(c) for c in chunks] == [200, 200, 50]
    assert [v for c in chunks for v in c] == emails
    long_values = ["x" * 1000] * 20
    by_length = list(soql.chunk_values(long_values, max_chars=3000))
    assert all(len(soql.in_clause("Name", c)) < 3100 for c in by_length)
    assert sum(len(c) for c in by_length) == 20
