"""SOQL evaluator: filters, ordering, paging clauses, parent paths and binding errors."""

from __future__ import annotations

import pytest

from hubforce.emulators.salesforce.soql import (
    InvalidFieldError,
    InvalidFilterError,
    InvalidTypeError,
    MalformedQueryError,
)
from tests.unit.emulators.salesforce.soql_fakes import FakeOrg

U1 = "005000000000001AAA"
U2 = "005000000000002AAA"
G1 = "00G000000000001AAA"


@pytest.fixture
def org() -> FakeOrg:
    org = FakeOrg()
    org.add("User", Id=U1, Email="ann@corp.test", Name="Ann", ManagerId=U2)
    org.add("User", Id=U2, Email="bob@corp.test", Name="Bob", ManagerId=None)
    org.add("Group", Id=G1, Name="Queue")
    rows = [
        # Id, Name, Email, Score, Active, Born, SystemModstamp, OwnerId, IsDeleted
        (
            "L1",
            "Smith",
            "s@x.test",
            10,
            True,
            "1990-05-01",
            "2024-03-10T08:00:00.000+0000",
            U1,
            False,
        ),
        ("L2", "jones", None, 5, False, None, "2024-03-15T09:30:00.000+0000", U2, False),
        (
            "L3",
            "Adams",
            "a@x.test",
            None,
            True,
            "1985-01-20",
            "2024-03-01T00:00:00.000+0000",
            G1,
            False,
        ),
        (
            "L4",
            "O'Hara",
            "o@x.test",
            7,
            False,
            "2000-12-31",
            "2024-03-14T23:59:59.000+0000",
            None,
            False,
        ),
        ("L5", "Gone", "g@x.test", 1, True, None, "2024-03-12T00:00:00.000+0000", U1, True),
    ]
    for rid, name, email, score, active, born, stamp, owner, deleted in rows:
        org.add(
            "Lead",
            Id=f"00Q{rid:0>12}AAA",
            Name=name,
            Email=email,
            Score=score,
            Active=active,
            Born=born,
            SystemModstamp=stamp,
            OwnerId=owner,
            IsDeleted=deleted,
            Status="Open",
            Revenue=None,
            ManagerId=None,
        )
    return org


def names(org: FakeOrg, where: str, *, include_deleted: bool = False) -> list[str]:
    rows = org.query(f"SELECT Name FROM Lead {where}", include_deleted=include_deleted)
    return [r["Name"] for r in rows]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("WHERE Score = 5", ["jones"]),
        ("WHERE Score != 5", ["Smith", "Adams", "O'Hara"]),
        ("WHERE Score > 5", ["Smith", "O'Hara"]),
        ("WHERE Score >= 7", ["Smith", "O'Hara"]),
        ("WHERE Score < 7", ["jones"]),
        ("WHERE Score <= 7.0", ["jones", "O'Hara"]),
        ("WHERE Score = null", ["Adams"]),
        ("WHERE Score != null", ["Smith", "jones", "O'Hara"]),
        ("WHERE Name = 'SMITH'", ["Smith"]),
        ("WHERE Name = 'O\\'Hara'", ["O'Hara"]),
        ("WHERE Name > 'k'", ["Smith", "O'Hara"]),
        ("WHERE Email = null", ["jones"]),
        ("WHERE Active = true", ["Smith", "Adams"]),
        ("WHERE Active = FALSE", ["jones", "O'Hara"]),
        ("WHERE Born < 1990-05-01", ["Adams"]),
        ("WHERE Born >= 1990-05-01", ["Smith", "O'Hara"]),
        ("WHERE SystemModstamp > 2024-03-14T23:59:59Z", ["jones"]),
        ("WHERE SystemModstamp >= 2024-03-15T00:59:59+01:00", ["jones", "O'Hara"]),
        ("WHERE SystemModstamp < 2024-03-10T00:00:00-08:00", ["Adams"]),
        ("WHERE SystemModstamp <= 2024-03-10T00:00:00-08:00", ["Smith", "Adams"]),
    ],
)
def test_comparisons(org: FakeOrg, where: str, expected: list[str]) -> None:
    assert names(org, where) == expected


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("WHERE Name LIKE 'j%'", ["jones"]),
        ("WHERE Name LIKE '%A%'", ["Adams", "O'Hara"]),
        ("WHERE Name LIKE '_mith'", ["Smith"]),
        ("WHERE Email LIKE '%.test'", ["Smith", "Adams", "O'Hara"]),
        ("WHERE Name LIKE 'O\\'%'", ["O'Hara"]),
        ("WHERE Name IN ('smith', 'ADAMS', 'nobody')", ["Smith", "Adams"]),
        ("WHERE Name NOT IN ('smith', 'ADAMS')", ["jones", "O'Hara"]),
        ("WHERE Score IN (5, 7)", ["jones", "O'Hara"]),
        ("WHERE Email IN (null, 'a@x.test')", ["jones", "Adams"]),
        ("WHERE Email NOT IN ('a@x.test')", ["Smith", "jones", "O'Hara"]),
    ],
)
def test_like_and_in(org: FakeOrg, where: str, expected: list[str]) -> None:
    assert names(org, where) == expected


def test_like_escapes_wildcards() -> None:
    org = FakeOrg()
    org.add("Lead", Id="00Q000000000001AAA", Name="100%")
    org.add("Lead", Id="00Q000000000002AAA", Name="1000")
    assert names(org, "WHERE Name LIKE '100\\%'") == ["100%"]
    assert names(org, "WHERE Name LIKE '100%'") == ["100%", "1000"]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("WHERE Score > 1 AND Active = true", ["Smith"]),
        ("WHERE Score = 5 OR Score = null", ["jones", "Adams"]),
        ("WHERE NOT Score > 5", ["jones", "Adams"]),
        ("WHERE (Score = 5 OR Name = 'Adams') AND Active = true", ["Adams"]),
        ("WHERE NOT (Active = true OR Score = 5)", ["O'Hara"]),
    ],
)
def test_logic(org: FakeOrg, where: str, expected: list[str]) -> None:
    assert names(org, where) == expected


def test_relative_dates_use_the_clock(org: FakeOrg) -> None:
    # NOW is 2024-03-15T12:00Z, a Friday; the week started on Sunday 2024-03-10.
    assert names(org, "WHERE SystemModstamp = TODAY") == ["jones"]
    assert names(org, "WHERE SystemModstamp = YESTERDAY") == ["O'Hara"]
    assert names(org, "WHERE SystemModstamp = LAST_N_DAYS:5") == ["Smith", "jones", "O'Hara"]
    assert names(org, "WHERE SystemModstamp < THIS_WEEK") == ["Adams"]
    assert names(org, "WHERE SystemModstamp = THIS_MONTH") == ["Smith", "jones", "Adams", "O'Hara"]
    assert names(org, "WHERE SystemModstamp > TODAY") == []
    assert names(org, "WHERE Born < THIS_YEAR") == ["Smith", "Adams", "O'Hara"]


def test_deleted_rows_only_with_include_deleted(org: FakeOrg) -> None:
    assert "Gone" not in names(org, "")
    assert names(org, "WHERE Score = 1", include_deleted=True) == ["Gone"]


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("ORDER BY Name", ["Adams", "jones", "O'Hara", "Smith"]),
        ("ORDER BY Name DESC", ["Smith", "O'Hara", "jones", "Adams"]),
        ("ORDER BY Score", ["Adams", "jones", "O'Hara", "Smith"]),
        ("ORDER BY Score NULLS LAST", ["jones", "O'Hara", "Smith", "Adams"]),
        ("ORDER BY Score DESC", ["Smith", "O'Hara", "jones", "Adams"]),
        ("ORDER BY Score DESC NULLS FIRST", ["Adams", "Smith", "O'Hara", "jones"]),
        ("ORDER BY Active DESC, Name", ["Adams", "Smith", "jones", "O'Hara"]),
        ("ORDER BY Active, Score DESC", ["O'Hara", "jones", "Smith", "Adams"]),
        ("ORDER BY SystemModstamp LIMIT 2", ["Adams", "Smith"]),
        ("ORDER BY SystemModstamp LIMIT 2 OFFSET 1", ["Smith", "O'Hara"]),
        ("ORDER BY Owner.Name NULLS LAST", ["Smith", "jones", "Adams", "O'Hara"]),
        ("LIMIT 1 OFFSET 3", ["O'Hara"]),
        ("OFFSET 10", []),
    ],
)
def test_order_limit_offset(org: FakeOrg, order: str, expected: list[str]) -> None:
    assert names(org, order) == expected


def test_top_k_path_matches_a_full_sort() -> None:
    org = FakeOrg()
    for i in range(200):
        org.add("Lead", Id=f"00Q{i:012d}AAA", Name=f"n{(i * 37) % 50:02d}", Score=i % 7)
    full = org.ids("SELECT Id FROM Lead ORDER BY Name DESC, Score DESC")
    assert org.ids("SELECT Id FROM Lead ORDER BY Name DESC, Score DESC LIMIT 10") == full[:10]
    ascending = org.ids("SELECT Id FROM Lead ORDER BY Score, Name")
    assert org.ids("SELECT Id FROM Lead ORDER BY Score, Name LIMIT 5 OFFSET 3") == ascending[3:8]


def test_count_applies_filters_and_limit(org: FakeOrg) -> None:
    compiled = org.compile("SELECT COUNT() FROM Lead WHERE Active = true")
    assert compiled.count is True
    assert len(compiled.run(org.records["Lead"].values())) == 2
    assert len(org.query("SELECT COUNT() FROM Lead LIMIT 3")) == 3


def test_parent_paths_render_nested_objects(org: FakeOrg) -> None:
    compiled = org.compile(
        "SELECT Id, owner.email, Owner.Name, Owner.Manager.Name FROM lead "
        "WHERE Name IN ('Smith', 'Adams', 'O\\'Hara') ORDER BY Name"
    )
    rendered = [compiled.render(r, "59.0") for r in compiled.run(org.records["Lead"].values())]
    adams, ohara, smith = rendered
    assert smith == {
        "attributes": {"type": "Lead", "url": f"/services/data/v59.0/sobjects/Lead/{smith['Id']}"},
        "Id": smith["Id"],
        "Owner": {
            "attributes": {"type": "User", "url": f"/services/data/v59.0/sobjects/User/{U1}"},
            "Email": "ann@corp.test",
            "Name": "Ann",
            "Manager": {
                "attributes": {"type": "User", "url": f"/services/data/v59.0/sobjects/User/{U2}"},
                "Name": "Bob",
            },
        },
    }
    assert ohara["Owner"] is None
    assert adams["Owner"]["attributes"]["type"] == "Group"  # polymorphic owner: a queue
    assert adams["Owner"]["Name"] == "Queue"
    assert adams["Owner"]["Email"] is None


def test_flat_values_and_headers_follow_the_select_list(org: FakeOrg) -> None:
    compiled = org.compile("SELECT name, Owner.email FROM Lead WHERE Name = 'Smith'")
    assert [c.header for c in compiled.columns] == ["Name", "Owner.Email"]
    assert [compiled.flat(r) for r in compiled.run(org.records["Lead"].values())] == [
        ["Smith", "ann@corp.test"]
    ]


def test_filter_on_parent_field(org: FakeOrg) -> None:
    assert names(org, "WHERE Owner.Email = 'ANN@corp.test'") == ["Smith"]
    assert names(org, "WHERE Owner.Name = null") == ["O'Hara"]


def test_object_name_prefix_is_accepted(org: FakeOrg) -> None:
    assert names(org, "WHERE Lead.Score = 10") == ["Smith"]


def test_fifteen_character_id_matches_the_eighteen_character_form(org: FakeOrg) -> None:
    assert names(org, "WHERE Id = '00Q0000000000L1'") == ["Smith"]
    assert names(org, f"WHERE OwnerId = '{U1}'") == ["Smith"]
    assert names(org, "WHERE OwnerId IN ('005000000000002')") == ["jones"]


@pytest.mark.parametrize(
    ("text", "error", "tail"),
    [
        (
            "SELECT Foo FROM Lead",
            InvalidFieldError,
            "No such column 'Foo' on entity 'Lead'. If you are attempting to use a custom field, "
            "be sure to append the '__c' after the custom field name. Please reference your WSDL "
            "or the describe call for the appropriate names.",
        ),
        (
            "SELECT Owner.Foo FROM Lead",
            InvalidFieldError,
            "No such column 'Foo' on entity 'User'.",
        ),
        (
            "SELECT Boss.Name FROM Lead",
            InvalidFieldError,
            "Didn't understand relationship 'Boss' in field path.",
        ),
        ("SELECT Id FROM Nope", InvalidTypeError, "sObject type 'Nope' is not supported."),
        (
            "SELECT Id FROM Lead WHERE SystemModstamp > 2024-01-01",
            InvalidFieldError,
            "value of filter criterion for field 'SystemModstamp' must be of type dateTime and "
            "should not be enclosed in quotes",
        ),
        (
            "SELECT Id FROM Lead WHERE Born = 2024-01-01T00:00:00Z",
            InvalidFieldError,
            "must be of type date and should not be enclosed in quotes",
        ),
        (
            "SELECT Id FROM Lead WHERE Score = '5'",
            InvalidFieldError,
            "must be of type integer and should not be enclosed in quotes",
        ),
        (
            "SELECT Id FROM Lead WHERE Name = 5",
            InvalidFieldError,
            "value of filter criterion for field 'Name' must be of type string and should be "
            "enclosed in quotes",
        ),
        (
            "SELECT Id FROM Lead WHERE Active = 'true'",
            InvalidFieldError,
            "must be of type boolean and should not be enclosed in quotes",
        ),
        ("SELECT Id FROM Lead WHERE Id = 'abc'", InvalidFilterError, "invalid ID field: abc"),
        (
            "SELECT Id FROM Lead WHERE Score LIKE '5'",
            InvalidFieldError,
            "invalid operator on field",
        ),
        ("SELECT Id, ID FROM Lead", MalformedQueryError, "duplicate field selected: Id"),
        (
            "SELECT Id FROM Lead WHERE Name = 'a\\qb'",
            MalformedQueryError,
            "Illegal escape sequence",
        ),
        ("SELECT Id FROM Lead WHERE Born = 2024-02-30", MalformedQueryError, "2024-02-30"),
    ],
)
def test_binding_errors(org: FakeOrg, text: str, error: type[Exception], tail: str) -> None:
    with pytest.raises(error) as exc:
        org.compile(text)
    message = getattr(exc.value, "message", "")
    assert tail in message
    assert "\nERROR at Row:1:Column:" in message


def test_error_points_at_the_bad_field(org: FakeOrg) -> None:
    with pytest.raises(InvalidFieldError) as exc:
        org.compile("SELECT Id, Foo FROM Lead")
    assert exc.value.message.startswith(
        "\nSELECT Id, Foo FROM Lead\n           ^\nERROR at Row:1:Column:12\n"
    )
    assert exc.value.error_code == "INVALID_FIELD"
