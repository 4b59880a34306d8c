"""The confirming tail end to end: after a cycle that wrote to HubSpot, the HubSpot cursor is
past the cycle's own writes (the next cycle does not read them back), and nothing edited
meanwhile on either side is lost, reverted or duplicated.

Time is the emulators' clock, frozen and moved only by the tests (`_tick`, from the engine's
`after_write` hook, so a cycle "lasts" longer than `overlap_ms`), and the engine reads the same
clock: every stamp, the signpost and the tail's legs are deterministic. Someone else's edits are
made in process, from `after_write`, between two of the engine's batch writes.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from hubforce.engine import tail as tail_module
from hubforce.engine.context import CycleReport, PairReport
from hubforce.sync.model import Side
from tests.e2e.conftest import Harness, V

PEOPLE = {"people": 120, "companies": 8, "deals": 0}
SEARCH = "POST /crm/v3/objects/{object_type}/search"
TICK_S = 12.0  # more than twice the default overlap (5 s): time a batch write "takes"


@pytest.fixture(autouse=True)
def _small_legs(monkeypatch: pytest.MonkeyPatch) -> None:
    # A leg of the tail every 20 written records instead of 2000, so small data has several.
    monkeypatch.setattr(tail_module, "LEG_RECORDS", 20)


def _freeze(h: Harness) -> None:
    h.hs_app.state.portal.limits_enabled = False  # the frozen clock never slides a window
    for clock in _clocks(h):
        clock.freeze()


def _clocks(h: Harness) -> tuple[Any, Any]:
    return h.hs_app.state.portal.clock, h.sf_app.state.backend.clock


def _tick(h: Harness, seconds: float = TICK_S) -> None:
    for clock in _clocks(h):
        clock.advance(seconds)


def _sync(h: Harness, **options: Any) -> CycleReport:
    """A cycle on the emulators' clock; every batch write takes TICK_S unless told."""
    options.setdefault("after_write", lambda *_: _tick(h))
    return h.sync(round_size=20, clock=h.hs_app.state.portal.clock.now_ms, **options)


def _contacts(report: CycleReport) -> PairReport:
    return next(p for p in report.pairs if p.pair == "contacts")


def _hs_titles(h: Harness) -> dict[str, str]:
    return {
        c["id"]: c["properties"].get("jobtitle") or "" for c in h.hs_all("contacts", "jobtitle")
    }


def _leads(h: Harness) -> dict[str, str]:
    rows = h.soql("SELECT Id, Title FROM Lead WHERE IsConverted = false")
    return {row["Id"]: row["Title"] or "" for row in rows}


def _no_duplicates(h: Harness) -> None:
    emails = Counter(c["properties"]["email"].lower() for c in h.hs_all("contacts", "email"))
    assert max(emails.values()) == 1
    for sobject in ("Lead", "Contact"):
        where = " WHERE IsConverted = false" if sobject == "Lead" else ""
        ids = [row["Id"] for row in h.soql(f"SELECT Id FROM {sobject}{where}")]
        linked = [h.link("contacts", Side.SALESFORCE, i) for i in ids]
        hubspot_ids = [link.hubspot_id for link in linked if link is not None]
        assert len(hubspot_ids) == len(set(hubspot_ids)), sobject


def _retitle(h: Harness, leads: list[str]) -> None:
    """Someone retitles `leads` in Salesforce ("sf title <n>"); then time passes."""
    for n, lead in enumerate(leads):
        h.sf_patch("Lead", lead, {"Title": f"sf title {n}"})
    _tick(h)


def _synced(h: Harness, people: int = PEOPLE["people"]) -> dict[str, str]:
    """After a first sync and a quiet one: linked Lead id -> HubSpot contact id."""
    h.seed(**{**PEOPLE, "people": people})
    _freeze(h)
    _sync(h)
    _tick(h)
    _sync(h)
    _tick(h)
    pairs = {}
    for lead in _leads(h):
        link = h.link("contacts", Side.SALESFORCE, lead)
        if link is not None:
            pairs[lead] = link.hubspot_id
    assert len(pairs) > 60
    return pairs


def test_after_a_cycle_that_wrote_to_hubspot_the_next_one_reads_none_of_it_back(
    harness: Harness,
) -> None:
    pairs = _synced(harness)
    leads = sorted(pairs)[:60]
    _retitle(harness, leads)

    report = _sync(harness)

    contacts = _contacts(report)
    assert contacts.updated["hubspot:contacts"] == 60
    assert contacts.read["hubspot:confirmed"] >= 60  # the tail read the writes back
    titles = _hs_titles(harness)
    assert [titles[pairs[lead]] for lead in leads] == [f"sf title {n}" for n in range(60)]
    cursor = harness.store.cursors.get("contacts", "hubspot")
    assert cursor is not None

    _tick(harness)
    harness.reset_stats()
    again = _contacts(_sync(harness))

    assert again.read.get("hubspot:contacts", 0) == 0  # nothing read back
    assert "hubspot:confirmed" not in again.read  # and nothing written: no tail
    assert sum(again.updated.values()) == sum(again.created.values()) == 0
    assert harness.writes() == {Side.HUBSPOT: 0, Side.SALESFORCE: 0}
    assert _hs_titles(harness) == titles
    leads_now = _leads(harness)
    assert [leads_now[lead] for lead in leads] == [f"sf title {n}" for n in range(60)]


def test_edits_made_during_the_cycle_on_either_side_are_not_lost(harness: Harness) -> None:
    pairs = _synced(harness)
    ordered = sorted(pairs)
    written, untouched, sf_edited = ordered[:60], ordered[60], ordered[61]
    _retitle(harness, written)
    portal = harness.hs_app.state.portal
    org = harness.sf_app.state.backend
    edited: list[str] = []

    def meanwhile(pair: str, side: Side, kind: str, count: int) -> None:
        _tick(harness)
        if edited or (pair, side, kind) != ("contacts", Side.HUBSPOT, "update"):
            return
        # After the engine's first batch of HubSpot updates: someone edits one contact it has
        # just written, one it never touches, and a Lead in Salesforce.
        just_written = min(
            (
                r
                for r in portal.iter_live("contacts")
                if r.properties.get("jobtitle", "").startswith("sf title")
            ),
            key=lambda r: r.id,
        )
        edited.append(str(just_written.id))
        portal.update_object("contacts", str(just_written.id), {"jobtitle": "hs after write"})
        portal.update_object("contacts", pairs[untouched], {"jobtitle": "hs untouched"})
        org.update("Lead", sf_edited, {"Title": "sf meanwhile"})
        _tick(harness)

    first = _contacts(_sync(harness, after_write=meanwhile))
    _tick(harness)
    second = _contacts(_sync(harness))
    _tick(harness)
    third = _contacts(_sync(harness))

    assert edited
    by_contact = {hs: lead for lead, hs in pairs.items()}
    after_write = by_contact[edited[0]]
    leads = _leads(harness)
    titles = _hs_titles(harness)
    # Someone's HubSpot edits reached Salesforce, the Salesforce edit reached HubSpot.
    assert (titles[edited[0]], leads[after_write]) == ("hs after write", "hs after write")
    assert (titles[pairs[untouched]], leads[untouched]) == ("hs untouched", "hs untouched")
    assert (titles[pairs[sf_edited]], leads[sf_edited]) == ("sf meanwhile", "sf meanwhile")
    # Nothing reverted: every other Lead's new title is on both sides.
    for n, lead in enumerate(written):
        if lead != after_write:
            assert (titles[pairs[lead]], leads[lead]) == (f"sf title {n}", f"sf title {n}")
    # The HubSpot edits were planned by the tail of the same cycle.
    assert first.updated["salesforce:Lead"] >= 2
    assert first.read["hubspot:confirmed"] >= 60
    # The Salesforce edit is picked up by the next cycle at the latest; then all is quiet.
    assert second.updated.get("salesforce:Lead", 0) == 0
    assert sum(third.updated.values()) + sum(third.created.values()) == 0
    _no_duplicates(harness)


def test_a_dry_run_and_a_cycle_that_writes_nothing_to_hubspot_send_no_tail_search(
    harness: Harness,
) -> None:
    pairs = _synced(harness)
    leads = sorted(pairs)[:30]
    _retitle(harness, leads)

    harness.reset_stats()
    dry = _contacts(_sync(harness, dry_run=True))
    dry_searches = harness.stats(Side.HUBSPOT)["by_route"].get(SEARCH, 0)

    assert dry.updated["hubspot:contacts"] == 30  # what it would write
    assert "hubspot:confirmed" not in dry.read
    assert harness.writes() == {Side.HUBSPOT: 0, Side.SALESFORCE: 0}
    assert dry_searches == 3  # the own reads of companies, contacts and deals

    # Only HubSpot edits: the cycle writes to Salesforce alone.
    _sync(harness)  # the Leads' titles first
    _tick(harness)
    _sync(harness)
    _tick(harness)
    for n, lead in enumerate(leads[:10]):
        harness.hs_patch("contacts", pairs[lead], {"jobtitle": f"hs title {n}"})
    _tick(harness)
    harness.reset_stats()
    report = _contacts(_sync(harness))

    assert report.updated == {"salesforce:Lead": 10}
    assert "hubspot:confirmed" not in report.read
    assert harness.stats(Side.HUBSPOT)["by_route"].get(SEARCH, 0) == dry_searches
    assert harness.writes()[Side.HUBSPOT] == 0


def test_an_edit_not_yet_searchable_when_the_cycle_ends_is_synced_by_the_next_one(
    harness: Harness,
) -> None:
    pairs = _synced(harness)
    ordered = sorted(pairs)
    written, late = ordered[:40], ordered[40:45]
    _retitle(harness, written)
    portal = harness.hs_app.state.portal
    portal.index_lag_ms = 2000  # less than overlap_ms
    hubspot_writes = 0

    def meanwhile(pair: str, side: Side, kind: str, count: int) -> None:
        nonlocal hubspot_writes
        if hubspot_writes:
            return  # no time passes after the edits: the tail's last leg comes at once
        _tick(harness)
        if (pair, side, kind) == ("contacts", Side.HUBSPOT, "update"):
            hubspot_writes += 1
            # Right after the engine's (only) HubSpot batch: edits that are not searchable
            # yet when the tail's last leg searches.
            for n, lead in enumerate(late):
                portal.update_object("contacts", pairs[lead], {"jobtitle": f"late {n}"})

    first = _contacts(_sync(harness, after_write=meanwhile))

    assert hubspot_writes == 1 and first.updated["hubspot:contacts"] == 40
    assert first.read["hubspot:confirmed"] >= 40
    leads = _leads(harness)
    assert [leads[lead] for lead in late] != [f"late {n}" for n in range(5)]  # not seen yet
    _tick(harness, 3.0)  # past the index lag, within overlap_ms: the edits are searchable now
    second = _contacts(_sync(harness))

    leads = _leads(harness)
    assert [leads[lead] for lead in late] == [f"late {n}" for n in range(5)]
    assert second.updated == {"salesforce:Lead": 5}
    assert second.read["hubspot:contacts"] < 40  # the cycle's own writes were not read back


def test_an_edit_between_the_engines_read_and_its_write_of_the_same_contact_is_kept(
    harness: Harness,
) -> None:
    # The copy the engine's write leaves holds someone's earlier edit too: the tail must not
    # take it for a mere echo of the write (its stamp is the write's own).
    pairs = _synced(harness)
    leads = sorted(pairs)[:30]
    titles = {pairs[lead]: f"sf title {n}" for n, lead in enumerate(leads)}
    for lead in leads:
        harness.sf_patch("Lead", lead, {"Title": titles[pairs[lead]]})
    # A new Lead too: the round creates its contact before it updates the others.
    new_lead = {"LastName": "Newman", "Company": "Acme", "Email": "newman@acme.example"}
    harness.call(Side.SALESFORCE, "POST", f"{V}/sobjects/Lead", new_lead)
    _tick(harness)
    portal = harness.hs_app.state.portal
    later = pairs[leads[-1]]
    edited: list[str] = []

    def meanwhile(pair: str, side: Side, kind: str, count: int) -> None:
        _tick(harness)
        if not edited and (pair, side, kind) == ("contacts", Side.HUBSPOT, "create"):
            # The contacts were read, their updates are not sent yet.
            assert (
                portal.get_object("contacts", later).properties.get("jobtitle") != (titles[later])
            )
            portal.update_object("contacts", later, {"phone": "+1 555 0100"})
            edited.append(later)
            _tick(harness)

    first = _contacts(_sync(harness, after_write=meanwhile))
    _tick(harness)
    second = _contacts(_sync(harness))

    assert edited and first.updated["hubspot:contacts"] == len(leads)
    contact = portal.get_object("contacts", later).properties
    assert (contact.get("jobtitle"), contact.get("phone")) == (titles[later], "+1 555 0100")
    row = harness.soql(f"SELECT Title, Phone FROM Lead WHERE Id = '{leads[-1]}'")[0]
    assert (row["Title"], row["Phone"]) == (titles[later], "+1 555 0100")
    assert sum(second.updated.values()) + sum(second.created.values()) == 0
    _no_duplicates(harness)


def test_a_cycle_that_dies_in_its_tail_loses_nothing(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The rounds are recorded, the tail has planned and recorded its first chunk when the
    # cycle dies: the next cycle must still see someone's edit made during the dead one.
    pairs = _synced(harness)
    leads = sorted(pairs)[:60]
    _retitle(harness, leads)
    portal = harness.hs_app.state.portal
    untouched = pairs[sorted(pairs)[70]]
    edited: list[str] = []

    def meanwhile(pair: str, side: Side, kind: str, count: int) -> None:
        _tick(harness)
        if not edited and (pair, side, kind) == ("contacts", Side.HUBSPOT, "update"):
            portal.update_object("contacts", untouched, {"jobtitle": "hs during"})
            edited.append(untouched)
            _tick(harness)

    news = tail_module.ConfirmingTail.news
    chunks: list[int] = []

    def crash(self: Any, copies: list[Any]) -> list[Any]:
        chunks.append(len(copies))
        if len(chunks) == 2:  # the first chunk was planned and recorded
            raise RuntimeError("killed while confirming")
        return news(self, copies)

    monkeypatch.setattr(tail_module.ConfirmingTail, "news", crash)
    with pytest.raises(RuntimeError, match="killed while confirming"):
        _sync(harness, after_write=meanwhile)
    monkeypatch.undo()
    _tick(harness)
    second = _contacts(_sync(harness))
    _tick(harness)
    third = _contacts(_sync(harness))

    assert edited and len(chunks) == 2
    lead_of = {hs: lead for lead, hs in pairs.items()}
    assert _leads(harness)[lead_of[untouched]] == "hs during"
    titles = _hs_titles(harness)
    assert [titles[pairs[lead]] for lead in leads] == [f"sf title {n}" for n in range(60)]
    assert second.updated.get("salesforce:Lead", 0) >= 1
    assert sum(third.updated.values()) + sum(third.created.values()) == 0
    _no_duplicates(harness)
