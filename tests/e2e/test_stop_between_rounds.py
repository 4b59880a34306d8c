"""A cycle asked to stop (`CycleOptions.stop_requested`, what `hubforce sync` does on a first
SIGTERM) ends at its round in hand: every round so far is recorded with its cursors, the run is
recorded as interrupted with why, no confirming tail runs, and the next cycles end exactly where
a run that never stopped ends, with no duplicate."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from hubforce.engine.context import CycleReport
from hubforce.sync.model import Side
from tests.e2e.chaos_helpers import Snapshot, duplicates, snapshot
from tests.e2e.conftest import Harness

SEED = {"seed": 143, "people": 30, "companies": 5, "deals": 4}
EXTRA = {"hubspot": 450, "salesforce": 250}  # several search pages: several contacts rounds
ROUND = 200  # one HubSpot search page a round


def _seed(h: Harness) -> None:
    """The seeded world plus synthetic contacts and Leads (the emulators' bulk seed)."""
    h.seed(**SEED)
    h.call(Side.HUBSPOT, "POST", "/__emulator__/seed", {"extra_contacts": EXTRA["hubspot"]})
    extra = {"seed": 1, "people": 0, "companies": 0, "deals": 0, "reps": 0}
    h.call(
        Side.SALESFORCE,
        "POST",
        "/__emulator__/seed",
        {**extra, "extra_leads": EXTRA["salesforce"]},
    )


def _reference(tmp_path: Path, template: Path) -> Snapshot:
    clean_dir = tmp_path / "reference"
    clean_dir.mkdir()
    clean = Harness(clean_dir, template=template)
    try:
        _seed(clean)
        for _ in range(3):
            clean.sync(round_size=ROUND)
        return snapshot(clean)
    finally:
        clean.close()


def _stopped(h: Harness, when: Callable[[list[str]], bool]) -> tuple[CycleReport, list[str]]:
    done: list[str] = []
    report = h.sync(
        round_size=ROUND,
        progress=lambda pair, _n: done.append(pair),
        stop_requested=lambda: when(done),
    )
    return report, done


def _converged(h: Harness, expected: Snapshot) -> None:
    for _ in range(3):
        h.sync(round_size=ROUND)
    actual = snapshot(h)
    assert duplicates(actual) == duplicates(expected) == {}
    for key in expected:
        assert actual[key] == expected[key], key
    assert h.store.intents.unresolved() == []


def test_a_stop_request_ends_the_cycle_at_a_rounds_end_and_the_next_ones_converge(
    harness: Harness, migrated_store: Path, tmp_path: Path
) -> None:
    expected = _reference(tmp_path, migrated_store)
    _seed(harness)

    stopped, done = _stopped(harness, lambda done: done.count("contacts") >= 2)

    assert stopped.stopped and done.count("contacts") == 2  # two contacts rounds, no more
    assert [p.pair for p in stopped.pairs][-1] == "contacts"  # deals never started
    run = harness.store.runs.latest(kind="sync")
    assert run is not None and run.status == "interrupted"
    assert run.message is not None and "round's end" in run.message
    assert "hubspot:confirmed" not in stopped.pairs[-1].read  # no tail after a stop
    assert stopped.pairs[-1].read.get("hubspot:contacts", 0) > 0  # what it read is reported
    assert harness.store.cursors.get("deals", "hubspot") is None
    contacts = stopped.pairs[-1]
    assert 0 < sum(contacts.created.values()) < EXTRA["hubspot"] + EXTRA["salesforce"]

    _converged(harness, expected)
    run = harness.store.runs.latest(kind="sync")
    assert run is not None and run.status == "succeeded"


def test_a_stop_request_between_two_pairs_leaves_the_next_pair_to_the_next_cycle(
    harness: Harness, migrated_store: Path, tmp_path: Path
) -> None:
    expected = _reference(tmp_path, migrated_store)
    _seed(harness)

    stopped, _ = _stopped(harness, lambda done: "companies" in done)

    assert stopped.stopped and [p.pair for p in stopped.pairs] == ["owners", "companies"]
    assert harness.store.cursors.get("contacts", "hubspot") is None  # never started
    _converged(harness, expected)
