"""Audit: one row per field written, inserted in bulk, queried by run and by record."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy.exc import IntegrityError

from hubforce.store import AuditEntry, Store
from hubforce.sync.model import Side
from tests.unit.store.backends import PostgresBackend, SQLiteBackend


class AuditContract:
    def test_entries_are_read_back_by_run_and_by_record_with_their_values(
        self, store: Store
    ) -> None:
        run_id = store.runs.start(now=0)
        other_run = store.runs.start(now=1)
        entries = [
            AuditEntry(
                run_id,
                "deals",
                Side.SALESFORCE,
                "006A",
                "amount",
                None,
                Decimal("10.00"),
                "two_way",
            ),
            AuditEntry(
                run_id,
                "deals",
                Side.SALESFORCE,
                "006A",
                "tags",
                ("a",),
                ("a", "b"),
                "always_hubspot",
            ),
            AuditEntry(
                run_id, "deals", Side.HUBSPOT, "77", "dealname", "Old", "New", "two_way", at=5
            ),
            AuditEntry(
                other_run,
                "deals",
                Side.SALESFORCE,
                "006A",
                "amount",
                Decimal("10.00"),
                None,
                "two_way",
            ),
        ]

        assert store.audit.insert_many(entries, now=3) == 4

        in_run = store.audit.for_run(run_id)
        assert [(e.field, e.old, e.new, e.rule, e.at) for e in in_run] == [
            ("amount", None, Decimal("10.00"), "two_way", 3),
            ("tags", ("a",), ("a", "b"), "always_hubspot", 3),
            ("dealname", "Old", "New", "two_way", 5),
        ]
        assert in_run[2].side is Side.HUBSPOT
        history = store.audit.for_record("deals", Side.SALESFORCE, "006A")
        assert [(e.run_id, e.field) for e in history] == [
            (run_id, "amount"),
            (run_id, "tags"),
            (other_run, "amount"),
        ]
        assert store.audit.rule_counts(run_id) == {
            ("salesforce", "two_way"): 1,
            ("salesforce", "always_hubspot"): 1,
            ("hubspot", "two_way"): 1,
        }
        assert store.audit.insert_many([]) == 0

    def test_audit_rows_must_name_an_existing_run(self, store: Store) -> None:
        orphan = AuditEntry(12_345, "deals", Side.HUBSPOT, "1", "f", None, "x", "two_way")

        with pytest.raises(IntegrityError):
            store.audit.insert_many([orphan])
        store.audit.insert_many([AuditEntry(None, "deals", Side.HUBSPOT, "1", "f", None, "x", "r")])
        assert len(store.audit.for_record("deals", Side.HUBSPOT, "1")) == 1


class TestAuditSQLite(AuditContract, SQLiteBackend):
    pass


class TestAuditPostgres(AuditContract, PostgresBackend):
    pass
