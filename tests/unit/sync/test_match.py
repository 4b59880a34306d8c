"""Matching: deterministic choice among candidates, with the reason, and no double use."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hubforce.sync.match import (
    Candidate,
    choose_match,
    match_all,
    match_keys,
    normalise_domain,
    normalise_name,
)
from hubforce.sync.model import RecordRef, Side

HS, SF = Side.HUBSPOT, Side.SALESFORCE
SOURCE = RecordRef(HS, "contacts", "51")


def person(kind: str, ident: str, email: str, at: int = 0, converted: bool = False) -> Candidate:
    return Candidate(RecordRef(SF, kind, ident), {"email": email}, at, converted)


def test_contact_is_preferred_over_a_newer_lead() -> None:
    lead = person("Lead", "00Q2", "ann@x.example", at=9000)
    contact = person("Contact", "0031", "ann@x.example", at=1000)
    result = choose_match(SOURCE, {"email": "ann@x.example"}, [lead, contact], match_on=["email"])
    assert result.chosen == contact
    assert result.key == "email"
    assert result.others == (lead.ref,)
    assert "preferred Contact over Lead" in result.reason


def test_most_recent_then_lowest_id_break_ties() -> None:
    older = person("Lead", "00Q1", "a@x.example", at=1)
    newer = person("Lead", "00Q9", "a@x.example", at=5)
    result = choose_match(SOURCE, {"email": "a@x.example"}, [older, newer], match_on=["email"])
    assert result.chosen == newer
    assert "most recently modified" in result.reason
    twin = person("Lead", "00Q3", "a@x.example", at=5)
    result = choose_match(SOURCE, {"email": "a@x.example"}, [newer, twin], match_on=["email"])
    assert result.chosen == twin
    assert "lowest id" in result.reason


def test_converted_and_taken_candidates_never_match() -> None:
    converted = person("Lead", "00Q1", "a@x.example", converted=True)
    taken = person("Contact", "0031", "a@x.example")
    result = choose_match(
        SOURCE, {"email": "a@x.example"}, [converted, taken], match_on=["email"], taken={"0031"}
    )
    assert result.chosen is None
    assert result.reason == "no match by email"


def test_external_id_beats_other_keys_and_domain_beats_name() -> None:
    by_name = Candidate(RecordRef(SF, "Account", "0011"), {"name": "acme"}, 9)
    by_domain = Candidate(RecordRef(SF, "Account", "0012"), {"domain": "acme.example"}, 1)
    by_ext = Candidate(RecordRef(SF, "Account", "0013"), {"external_id": "77"}, 0)
    keys = {"domain": "acme.example", "name": "acme", "external_id": "77"}
    everyone = [by_name, by_domain, by_ext]
    assert choose_match(SOURCE, keys, everyone, match_on=["domain", "name"]).chosen == by_ext
    del keys["external_id"]
    result = choose_match(SOURCE, keys, everyone, match_on=["domain", "name"])
    assert (result.chosen, result.key) == (by_domain, "domain")


def test_match_all_never_gives_one_candidate_to_two_sources() -> None:
    account = Candidate(RecordRef(SF, "Account", "0011"), {"domain": "acme.example"}, 1)
    sources = [
        (RecordRef(HS, "companies", "20"), {"domain": "acme.example"}),
        (RecordRef(HS, "companies", "3"), {"domain": "acme.example"}),
    ]
    results = match_all(sources, [account], match_on=["domain"])
    assert [(r.source.id, r.chosen) for r in results] == [("3", account), ("20", None)]


def test_normalised_keys() -> None:
    assert normalise_domain("https://www.Acme.example/about") == "acme.example"
    assert normalise_domain("acme.example.") == "acme.example"
    assert normalise_domain("localhost") is None
    assert normalise_name("  ACME,  Inc. ") == "acme inc"
    keys = match_keys(
        {"Email": " Ann@X.example ", "Website": None}, {"email": "Email", "domain": "Website"}
    )
    assert keys == {"email": "ann@x.example"}


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["Lead", "Contact"]),
            st.integers(0, 5),
            st.integers(0, 99),
            st.booleans(),
        ),
        min_size=1,
        max_size=8,
    ),
    st.randoms(),
)
def test_choice_does_not_depend_on_candidate_order(
    specs: list[tuple[str, int, int, bool]], rng: object
) -> None:
    candidates = [
        person(kind, f"{kind[0]}{n:03d}", "a@x.example", at, converted)
        for n, (kind, at, _, converted) in enumerate(specs)
    ]
    shuffled = list(candidates)
    rng.shuffle(shuffled)  # type: ignore[attr-defined]
    first = choose_match(SOURCE, {"email": "a@x.example"}, candidates, match_on=["email"])
    second = choose_match(SOURCE, {"email": "a@x.example"}, shuffled, match_on=["email"])
    assert first.chosen == second.chosen
    live = [c for c in candidates if not c.converted]
    if live:
        assert first.chosen is not None
        if any(c.ref.object_type == "Contact" for c in live):
            assert first.chosen.ref.object_type == "Contact"
    else:
        assert first.chosen is None
