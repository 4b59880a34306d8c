"""Key lookups (`Id IN`, `Email IN`, ...) answer exactly as a scan of every row does.

Each query runs twice: the plain scan (`compiled.run(rows)`) and through the Org's hash indexes
(`run_for_org`); both must give the same rows in the same order. Where the lookup applies, it
also runs over an empty row list, so only the index can have supplied the answer. Long IN lists
are cut short before lark parses them (`parser._fold_lists`): the tree and the errors must be
those of the plain parse.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hubforce.emulators.common.clock import EmulatorClock
from hubforce.emulators.salesforce.models import Org
from hubforce.emulators.salesforce.query_engine import compile_for_org, run_for_org
from hubforce.emulators.salesforce.soql import Row, SoqlError, parser
from hubforce.emulators.salesforce.soql.compiler import COMPARE_KEYS
from hubforce.emulators.salesforce.soql.lookups import TableLookups
from tests.unit.emulators.salesforce.soql_fakes import FakeOrg

START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
FIELDS = "SELECT Id, Email FROM Lead WHERE "


@pytest.fixture
def org() -> Org:
    return Org(clock=EmulatorClock(START, frozen=True))


def lead(org: Org, email: str | None, **values: Any) -> str:
    org.clock.advance(1)
    values = {"LastName": "L", "Company": "C", "Email": email, **values}
    return org.create("Lead", values, allow_save=True)  # same e-mails on purpose


def ids(org: Org, text: str, *, include_deleted: bool = False, fast: bool = True) -> list[str]:
    """The query's ids through the Org's lookups, after checking the scan gives the same rows."""
    compiled = compile_for_org(org, text)
    scanned = compiled.run(org.records[compiled.sobject].values(), include_deleted=include_deleted)
    picked = run_for_org(org, compiled, include_deleted=include_deleted)
    assert picked == scanned, text
    lookups = org.key_lookups(compiled.sobject)
    only_index = compiled.run([], include_deleted=include_deleted, lookups=lookups)
    if fast:
        assert only_index == scanned, f"the lookup did not serve: {text}"
    else:
        assert only_index == [], f"the lookup served a query it cannot: {text}"
    return [r["Id"] for r in picked]


def test_email_matches_case_insensitively_in_table_order(org: Org) -> None:
    a = lead(org, "Ann@Example.com")
    b = lead(org, "bob@example.com")
    c = lead(org, "ANN@example.COM")
    lead(org, None)
    text = FIELDS + "Email IN ('BOB@EXAMPLE.COM', 'ann@example.com', 'nobody@x.com')"
    assert ids(org, text) == [a, b, c]
    assert ids(org, FIELDS + "Email = 'aNN@eXample.com'") == [a, c]
    assert ids(org, FIELDS + "email in ('Ann@Example.com')") == [a, c]  # field name case too


def test_ids_match_in_15_and_18_characters(org: Org) -> None:
    a, b, c = lead(org, "a@x.com"), lead(org, "b@x.com"), lead(org, "c@x.com")
    wrong_suffix = c[:15] + "zzz"  # the API compares the first 15 characters only
    assert ids(org, FIELDS + f"Id IN ('{c}', '{a[:15]}', '{wrong_suffix}')") == [a, c]
    assert ids(org, FIELDS + f"Id = '{b[:15]}'") == [b]
    assert ids(org, FIELDS + f"Id IN ('{b.lower()}')") == []  # ids are case-sensitive
    assert ids(org, FIELDS + f"Id IN ('{a}', '{a[:15]}') AND Email = 'A@X.COM'") == [a]


def test_deleted_rows_under_query_and_query_all(org: Org) -> None:
    a, b = lead(org, "a@x.com"), lead(org, "b@x.com")
    org.delete("Lead", a)
    text = FIELDS + "Email IN ('a@x.com', 'b@x.com')"
    assert ids(org, text) == [b]
    assert ids(org, text, include_deleted=True) == [a, b]
    assert ids(org, FIELDS + f"Id IN ('{a}', '{b}') AND IsDeleted = true", include_deleted=True)
    org.begin()
    org.delete("Lead", b)
    assert ids(org, text) == []
    org.rollback()  # b is live again
    assert ids(org, text) == [b]


def test_other_conditions_order_by_limit_and_offset(org: Org) -> None:
    rows = [lead(org, f"p{n}@x.com", FirstName=f"F{n % 3}") for n in range(10)]
    emails = ", ".join(f"'P{n}@X.COM'" for n in range(10))
    text = FIELDS + f"Email IN ({emails}) AND FirstName != 'F1' AND IsConverted = false"
    assert ids(org, text) == [r for n, r in enumerate(rows) if n % 3 != 1]
    ordered = text + " ORDER BY FirstName DESC, Email LIMIT 3 OFFSET 1"
    assert ids(org, ordered) == [rows[5], rows[8], rows[0]]
    assert ids(org, f"SELECT COUNT() FROM Lead WHERE Email IN ({emails})") == rows
    # ORs and NOTs are not read through the index, but the AND above them is.
    nested = FIELDS + f"(Email IN ({emails}) AND (FirstName = 'F0' OR FirstName = 'F2'))"
    assert ids(org, nested) == [r for n, r in enumerate(rows) if n % 3 != 1]
    assert ids(org, FIELDS + "Email = 'p1@x.com' OR Email = 'p2@x.com'", fast=False)


def test_updates_move_rows_in_the_index(org: Org) -> None:
    a, b = lead(org, "old@x.com"), lead(org, "b@x.com")
    assert ids(org, FIELDS + "Email = 'old@x.com'") == [a]  # builds the index
    org.update("Lead", a, {"Email": "New@x.com"})
    assert ids(org, FIELDS + "Email = 'old@x.com'") == []
    assert ids(org, FIELDS + "Email IN ('new@X.com', 'b@x.com')") == [a, b]
    org.update("Lead", b, {"Email": None})
    assert ids(org, FIELDS + "Email IN ('new@X.com', 'b@x.com')") == [a]
    org.begin()
    org.update("Lead", a, {"Email": "changed@x.com"})
    created = lead(org, "new@x.com")
    assert ids(org, FIELDS + "Email = 'new@x.com'") == [created]
    org.rollback()  # the update and the create are undone
    assert ids(org, FIELDS + "Email = 'new@x.com'") == [a]


def test_conversion_and_merge_are_seen(org: Org) -> None:
    a = lead(org, "a@x.com")
    assert ids(org, FIELDS + "Email = 'a@x.com' AND IsConverted = false") == [a]
    result = org.convert_lead(a)
    assert ids(org, FIELDS + "Email = 'a@x.com' AND IsConverted = false") == []
    contact = result["contactId"]
    by_contact = f"SELECT Id FROM Lead WHERE ConvertedContactId = '{contact}'"
    assert ids(org, by_contact) == [a]
    master = org.create("Account", {"Name": "M"})
    loser = org.create("Account", {"Name": "L"})
    child = org.create("Contact", {"LastName": "C", "AccountId": loser})
    assert ids(org, f"SELECT Id FROM Contact WHERE AccountId = '{loser}'") == [child]
    org.merge("Account", master, [loser])
    assert ids(org, f"SELECT Id FROM Contact WHERE AccountId = '{loser}'") == []
    assert ids(org, f"SELECT Id FROM Contact WHERE AccountId IN ('{master}')") == [child]


def test_seeded_imported_and_unsynced_rows_are_found(org: Org) -> None:
    a = lead(org, "a@x.com")
    assert ids(org, FIELDS + "Email = 'a@x.com'") == [a]
    org.seed({"people": 0, "companies": 0, "deals": 0, "reps": 0, "extra_leads": 50})
    seeded = list(org.records["Lead"].values())[-1]
    assert ids(org, FIELDS + f"Email = '{str(seeded['Email']).upper()}'") == [seeded["Id"]]
    state = org.export_state()
    state["records"]["Lead"][0]["Email"] = "imported@x.com"
    org.import_state(state)
    assert ids(org, FIELDS + "Email IN ('imported@x.com', 'a@x.com')") == [a]
    # A row put in the table by hand, without any index hook, is still found.
    stray = {**org.records["Lead"][a], "Id": "00Q8H000000zzzzAAA", "Email": "stray@x.com"}
    org.records["Lead"][stray["Id"]] = stray
    assert ids(org, FIELDS + "Email = 'stray@x.com'") == [stray["Id"]]


def test_null_and_unindexable_tests_scan(org: Org) -> None:
    a, b = lead(org, None), lead(org, "b@x.com")
    assert ids(org, FIELDS + "Email = null", fast=False) == [a]
    assert ids(org, FIELDS + "Email IN ('b@x.com', null)", fast=False) == [a, b]
    assert ids(org, FIELDS + "Email != 'b@x.com'", fast=False) == [a]
    assert ids(org, FIELDS + "Email NOT IN ('b@x.com')", fast=False) == [a]
    assert ids(org, FIELDS + "Email LIKE 'b%'", fast=False) == [b]
    assert ids(org, FIELDS + "Owner.Email = 'nobody@x.com'", fast=False) == []
    # A null-free key test next to a null test still narrows the rows.
    assert ids(org, FIELDS + "Email IN ('b@x.com') AND Title = null") == [b]


def test_a_common_value_is_left_to_the_scan(org: Org) -> None:
    for n in range(300):
        lead(
            org,
            f"{n}@x.com",
            Status="Open - Not Contacted" if n % 10 else "Working - Contacted",
            Phone="1",
        )
    # 270 of 301 rows hold the status: more than a quarter, so the scan (as before) answers.
    assert len(ids(org, "SELECT Id FROM Lead WHERE Status = 'Open - Not Contacted'", fast=False))
    assert len(ids(org, "SELECT Id FROM Lead WHERE Status = 'working - CONTACTED'")) == 30


# -- property: random tables, random writes, random IN lists -----------------------------------

EMAILS = ["ann@x.com", "ANN@x.com", "Åsa@x.com", "åsa@X.com", "bob@y.com", "o'neil@z.com", ""]
OWNERS = ["005000000000001AAA", "005000000000002AAA", "005000000000003AAA"]
KEYS = [*EMAILS, "nobody@x.com", "ÅSA@x.com"]
OWNER_KEYS = [*OWNERS, *(o[:15] for o in OWNERS), OWNERS[0][:15] + "ZZZ"]


def quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


row_values = st.fixed_dictionaries(
    {
        "Email": st.none() | st.sampled_from(EMAILS),
        "Name": st.sampled_from(["a", "B", "c"]),
        "OwnerId": st.none() | st.sampled_from(OWNERS),
        "Score": st.integers(0, 3),
        "IsDeleted": st.booleans(),
    }
)
key_test = st.one_of(
    st.lists(st.sampled_from(KEYS), min_size=1, max_size=12).map(
        lambda vs: f"Email IN ({', '.join(quoted(v) for v in vs)})"
    ),
    st.sampled_from(KEYS).map(lambda v: f"Email = {quoted(v)}"),
    st.lists(st.sampled_from(OWNER_KEYS), min_size=1, max_size=9).map(
        lambda vs: f"OwnerId IN ({', '.join(quoted(v) for v in vs)})"
    ),
    st.just("ID"),  # replaced by an `Id IN` over ids of the table (and some it lacks)
)
other_test = st.sampled_from(
    ["", " AND Score >= 1", " AND Name = 'b'", " AND (Score = 0 OR Name = 'A')"]
)
tail = st.sampled_from(
    ["", " ORDER BY Name", " ORDER BY Score DESC, Email LIMIT 3", " LIMIT 2 OFFSET 1"]
)
write = st.tuples(st.integers(0, 40), row_values, st.booleans())  # (row, new values, add a row?)


@settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    rows=st.lists(row_values, max_size=25),
    writes=st.lists(write, max_size=6),
    keys=key_test,
    other=other_test,
    rest=tail,
    picked=st.lists(st.integers(0, 40), max_size=10),
    include_deleted=st.booleans(),
)
def test_lookup_agrees_with_a_scan(
    rows: list[dict[str, Any]],
    writes: list[tuple[int, dict[str, Any], bool]],
    keys: str,
    other: str,
    rest: str,
    picked: list[int],
    include_deleted: bool,
) -> None:
    org = FakeOrg()
    table = org.records["Lead"]
    for n, values in enumerate(rows):
        org.add("Lead", Id=f"00Q{n:012d}AAA", **values)
    lookups = TableLookups(table, COMPARE_KEYS)

    def check(text: str) -> None:
        compiled = org.compile(text)
        scanned = compiled.run(table.values(), include_deleted=include_deleted)
        assert compiled.run([], include_deleted=include_deleted, lookups=lookups) == scanned, text

    def where() -> str:
        if keys != "ID":
            return keys
        # 15- and 18-character forms of ids in (and beyond) the table.
        listed = [f"00Q{n:012d}AAA"[: 15 if n % 2 else 18] for n in picked] or ["00Q999999999999"]
        return f"Id IN ({', '.join(quoted(i) for i in listed)})"

    check(f"SELECT Id FROM Lead WHERE {where()}{other}{rest}")  # builds the indexes
    for n, values, add in writes:  # then the table changes under them
        rid = f"00Q{n:012d}AAA"
        if add or rid not in table:
            rid = f"00Q{len(table) + 100:012d}AAA"
            org.add("Lead", Id=rid, **values)
        else:
            table[rid] = {**table[rid], **values}
        lookups.sync(rid)
        check(f"SELECT Id FROM Lead WHERE {where()}{other}{rest}")


# -- the parser's cut of long IN lists -----------------------------------------------------------


def parsed(text: str, fold_at: int) -> object:
    """The parse of `text` (or its error) with lists of `fold_at` values and more cut short."""
    saved = parser.FOLD_AT
    parser.FOLD_AT = fold_at
    parser.parse_soql.cache_clear()
    try:
        return parser.parse_soql(text)
    except SoqlError as exc:
        return (type(exc).__name__, exc.message)
    finally:
        parser.FOLD_AT = saved
        parser.parse_soql.cache_clear()


LIST_TEXTS = [
    "SELECT Id FROM Lead WHERE Email IN ('a@x.com', 'B@x.com',\n 'c\\'d', 'é') AND IsConverted = 0",
    "SELECT Id FROM Lead WHERE Email NOT IN ('a','b','c') ORDER BY Email LIMIT 3",
    "SELECT Id FROM Lead WHERE Name = 'x IN (\\'a\\', \\'b\\', \\'c\\')' AND Email in('a','b','c')",
    "SELECT Id FROM Lead WHERE Email IN ('a','b','c') AND",
    "SELECT Id FROM Lead WHERE Email IN ('a','b','c') LIMT 5",
    "SELECT Id FROM Lead WHERE Email = 'abc AND Email IN ('a', 'b', 'c')",
    "SELECT Id FROM Lead WHERE Email IN ('a','b','c' AND x = 1",
    "SELECT Id FROM Lead IN ('a','b','c')",
    "SELECT Id FROM Lead WHERE Email IN ('a','b',\n\n'c')\n  AND Name IN ('q','r','s') OFFSET 5000",
    "SELECT Id FROM Lead WHERE Email IN ('a', 'b', 'c', 1)",
    "SELECT Id FROM Lead WHERE Email IN ('a', 'b\\q', 'c')",
]


@pytest.mark.parametrize("text", LIST_TEXTS)
def test_cut_lists_parse_as_the_full_text(text: str) -> None:
    assert parsed(text, 2) == parsed(text, 10**9)


@settings(max_examples=200, derandomize=True, deadline=None)
@given(
    pieces=st.lists(
        st.sampled_from(
            [
                "'a'",
                "'B\\''",
                "'IN ('",
                "'x\ny'",
                ",",
                " ",
                "\n",
                "(",
                ")",
                "IN",
                "1",
                "AND Id = 'q'",
            ]
        ),
        max_size=14,
    ),
)
def test_cut_lists_parse_as_the_full_text_for_random_lists(pieces: list[str]) -> None:
    text = "SELECT Id FROM Lead WHERE Email IN (" + "".join(pieces)
    assert parsed(text, 2) == parsed(text, 10**9)
    listed = "SELECT Id FROM Lead WHERE Email IN ('a', " + ", ".join(
        p for p in pieces if p.startswith("'")
    )
    assert parsed(listed + ")", 2) == parsed(listed + ")", 10**9)


def test_a_long_id_list_reaches_the_compiled_query_whole(org: Org) -> None:
    rows = [lead(org, f"{n}@x.com") for n in range(40)]
    listed = ",\n".join(f"'{rid}'" for rid in rows[::2])
    picked: list[Row] = run_for_org(
        org,
        compile_for_org(org, f"SELECT Id FROM Lead WHERE Id IN ({listed})"),
        include_deleted=False,
    )
    assert [r["Id"] for r in picked] == rows[::2]
