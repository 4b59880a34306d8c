"""Links: bulk upsert and reads, invariant 1 by constraint, relinks, unlinks and deletes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from hubforce.store import LinkConflict, SalesforceMove, Store
from hubforce.store.tables import links
from hubforce.sync.model import Link, Side, Snapshot
from tests.unit.store.backends import PostgresBackend, SQLiteBackend


def lead(hubspot_id: str, n: int, snapshot: Snapshot | None = None) -> Link:
    return Link("contacts", hubspot_id, "Lead", f"00Q{n:015d}", snapshot)


SNAP = Snapshot(
    hubspot={"email": "ada@example.com", "amount": Decimal("1250.50"), "tags": ("a", "b")},
    salesforce={"email": "ada@example.com", "amount": Decimal("1250.50"), "score": None},
)


class LinksContract:
    def test_upsert_then_read_by_either_side_returns_snapshots_exactly(self, store: Store) -> None:
        store.links.upsert_many([lead("101", 1, SNAP), lead("102", 2)], now=1_000)

        by_hubspot = store.links.get_many("contacts", Side.HUBSPOT, ["101", "102", "999"])
        by_salesforce = store.links.get_many("contacts", Side.SALESFORCE, [f"00Q{1:015d}"])

        assert sorted(by_hubspot) == ["101", "102"]
        first = by_hubspot["101"]
        assert first.snapshot == SNAP
        assert first.snapshot is not None
        assert type(first.snapshot.hubspot["amount"]) is Decimal
        assert str(first.snapshot.hubspot["amount"]) == "1250.50"
        assert first.snapshot.hubspot["tags"] == ("a", "b")
        assert by_hubspot["102"].snapshot is None  # matched, never synced
        assert (first.created_at, first.updated_at, first.deleted_on) == (1_000, 1_000, None)
        assert by_salesforce[f"00Q{1:015d}"].hubspot_id == "101"

    def test_upsert_of_a_known_link_replaces_its_snapshot_and_keeps_created_at(
        self, store: Store
    ) -> None:
        store.links.upsert_many([lead("101", 1, SNAP)], now=1_000)
        newer = Snapshot({"email": "new@example.com"}, {"email": "new@example.com"})

        store.links.upsert_many([lead("101", 1, newer)], now=2_000)

        stored = store.links.get("contacts", Side.HUBSPOT, "101")
        assert stored is not None
        assert stored.snapshot == newer
        assert (stored.created_at, stored.updated_at) == (1_000, 2_000)
        assert store.links.count() == {"contacts": 1}

    def test_upsert_without_a_snapshot_clears_the_stored_one(self, store: Store) -> None:
        store.links.upsert_many([lead("101", 1, SNAP)], now=1)

        store.links.upsert_many([lead("101", 1)], now=2)

        stored = store.links.get("contacts", Side.HUBSPOT, "101")
        assert stored is not None
        assert (stored.snapshot, stored.created_at, stored.updated_at) == (None, 1, 2)

    def test_upsert_refuses_to_link_a_hubspot_record_to_a_second_salesforce_record(
        self, store: Store
    ) -> None:
        store.links.upsert_many([lead("101", 1)])

        with pytest.raises(LinkConflict, match="already linked"):
            store.links.upsert_many([lead("102", 2), lead("101", 3)])

        # The whole batch rolled back: "102" was not written either.
        assert store.links.get_many("contacts", Side.HUBSPOT, ["101", "102"]).keys() == {"101"}
        kept = store.links.get("contacts", Side.HUBSPOT, "101")
        assert kept is not None and kept.salesforce_id == f"00Q{1:015d}"

    def test_upsert_refuses_to_link_a_salesforce_record_to_a_second_hubspot_record(
        self, store: Store
    ) -> None:
        store.links.upsert_many([lead("101", 1)])

        with pytest.raises(LinkConflict, match=f"00Q{1:015d}"):
            store.links.upsert_many([lead("201", 1)])
        with pytest.raises(LinkConflict, match="twice in this batch"):
            store.links.upsert_many([lead("301", 7), lead("302", 7)])
        assert store.links.count() == {"contacts": 1}

    def test_unique_constraints_hold_invariant_one_even_without_the_repository(
        self, store: Store
    ) -> None:
        row = {
            "pair": "contacts",
            "hubspot_id": "101",
            "salesforce_type": "Lead",
            "salesforce_id": "00Q000000000000001",
            "created_at": 0,
            "updated_at": 0,
        }
        with store.engine.begin() as conn:
            conn.execute(insert(links), [row])
        same_hubspot_record = {**row, "salesforce_id": "00Q000000000000002"}
        same_salesforce_record = {**row, "hubspot_id": "102"}
        for clash in (same_hubspot_record, same_salesforce_record):
            with pytest.raises(IntegrityError), store.engine.begin() as conn:
                conn.execute(insert(links), [clash])

    def test_pairs_are_separate_namespaces(self, store: Store) -> None:
        store.links.upsert_many(
            [lead("101", 1), Link("companies", "101", "Account", "001000000000000001")]
        )

        assert store.links.count() == {"contacts": 1, "companies": 1}
        company = store.links.get("companies", Side.HUBSPOT, "101")
        assert company is not None and company.salesforce_type == "Account"

    def test_bulk_reads_and_writes_span_many_in_list_chunks(self, store: Store) -> None:
        batch = [lead(str(1000 + i), i, Snapshot({"n": i}, {"n": i})) for i in range(1_234)]
        store.links.upsert_many(batch)
        store.links.upsert_many(batch[:600])  # updates go through the same chunking

        found = store.links.get_many("contacts", "hubspot", [link.hubspot_id for link in batch])
        assert len(found) == 1_234
        assert found["2233"].snapshot == Snapshot({"n": 1233}, {"n": 1233})
        pages = list(store.links.iter_pair("contacts", batch_size=500))
        assert [len(page) for page in pages] == [500, 500, 234]

    def test_relink_hubspot_merge_moves_the_link_to_the_surviving_id(self, store: Store) -> None:
        store.links.upsert_many([lead("101", 1, SNAP), lead("102", 2)])

        outcome = store.links.relink_hubspot("contacts", {"101": "555", "404": "556"}, now=9)

        assert [(m.hubspot_id, m.salesforce_id) for m in outcome.moved] == [("555", f"00Q{1:015d}")]
        assert outcome.dropped == []
        moved = store.links.get("contacts", Side.HUBSPOT, "555")
        assert moved is not None and moved.snapshot == SNAP and moved.updated_at == 9
        assert store.links.get("contacts", Side.HUBSPOT, "101") is None

    def test_relink_hubspot_onto_an_already_linked_survivor_drops_the_merged_link(
        self, store: Store
    ) -> None:
        store.links.upsert_many([lead("101", 1), lead("102", 2)])

        outcome = store.links.relink_hubspot("contacts", {"101": "102"})

        assert outcome.moved == []
        assert [(d.hubspot_id, d.salesforce_id) for d in outcome.dropped] == [
            ("101", f"00Q{1:015d}")
        ]
        assert store.links.get("contacts", Side.SALESFORCE, f"00Q{1:015d}") is None
        survivor = store.links.get("contacts", Side.HUBSPOT, "102")
        assert survivor is not None and survivor.salesforce_id == f"00Q{2:015d}"

    def test_relink_salesforce_follows_a_lead_conversion_to_the_contact(self, store: Store) -> None:
        store.links.upsert_many([lead("101", 1, SNAP)])
        store.links.mark_deleted("contacts", Side.SALESFORCE, [f"00Q{1:015d}"])

        outcome = store.links.relink_salesforce(
            "contacts", [SalesforceMove(f"00Q{1:015d}", "Contact", "003000000000000001")]
        )

        assert len(outcome.moved) == 1
        link = store.links.get("contacts", Side.SALESFORCE, "003000000000000001")
        assert link is not None
        assert (link.hubspot_id, link.salesforce_type, link.deleted_on) == ("101", "Contact", None)
        assert link.snapshot == SNAP
        assert store.links.get("contacts", Side.SALESFORCE, f"00Q{1:015d}") is None

    def test_relink_salesforce_merge_into_a_linked_master_drops_the_loser(
        self, store: Store
    ) -> None:
        store.links.upsert_many([lead("101", 1), lead("102", 2)])

        outcome = store.links.relink_salesforce(
            "contacts", [SalesforceMove(f"00Q{1:015d}", "Lead", f"00Q{2:015d}")]
        )

        assert [d.hubspot_id for d in outcome.dropped] == ["101"]
        assert store.links.get("contacts", Side.HUBSPOT, "101") is None
        assert store.links.count() == {"contacts": 1}

    def test_unlink_returns_the_links_removed_and_frees_both_records(self, store: Store) -> None:
        store.links.upsert_many([lead("101", 1), lead("102", 2)])

        removed = store.links.unlink("contacts", Side.SALESFORCE, [f"00Q{1:015d}", "nope"])

        assert [r.hubspot_id for r in removed] == ["101"]
        store.links.upsert_many([lead("101", 5)])  # both sides are free to link again
        store.links.upsert_many([lead("201", 1)])
        assert store.links.count() == {"contacts": 3}

    def test_mark_deleted_keeps_the_link_but_hides_it_from_live_reads(self, store: Store) -> None:
        store.links.upsert_many([lead("101", 1), lead("102", 2)])

        changed = store.links.mark_deleted("contacts", Side.HUBSPOT, ["101"], now=77)

        assert changed == 1
        kept = store.links.get("contacts", Side.HUBSPOT, "101")
        assert kept is not None
        assert (kept.deleted_on, kept.deleted_at) == (Side.HUBSPOT, 77)
        live = store.links.get_many("contacts", Side.HUBSPOT, ["101", "102"], include_deleted=False)
        assert list(live) == ["102"]
        assert store.links.count("contacts") == {"contacts": 1}
        with pytest.raises(LinkConflict):  # a deleted record's link still blocks a duplicate
            store.links.upsert_many([lead("999", 1)])
        store.links.upsert_many([lead("101", 1, SNAP)])  # synced again: the link is live
        revived = store.links.get("contacts", Side.HUBSPOT, "101")
        assert revived is not None and revived.deleted_on is None


class TestLinksSQLite(LinksContract, SQLiteBackend):
    pass


class TestLinksPostgres(LinksContract, PostgresBackend):
    pass
