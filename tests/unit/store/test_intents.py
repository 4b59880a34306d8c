"""Create intents: recorded before a create, resolved after, listed for crash recovery."""

from __future__ import annotations

import pytest

from hubforce.errors import StoreError
from hubforce.store import IntentStatus, NewIntent, Store
from hubforce.sync.model import Link, Side
from tests.unit.store.backends import PostgresBackend, SQLiteBackend


def to_salesforce(source_id: str, key: str | None = None) -> NewIntent:
    return NewIntent(
        pair="contacts",
        target_side=Side.SALESFORCE,
        source_id=source_id,
        idempotency_key=key or f"hs-{source_id}",
        target_type="Lead",
    )


class IntentsContract:
    def test_recorded_intents_are_unresolved_until_resolved(self, store: Store) -> None:
        store.intents.record_many([to_salesforce("101"), to_salesforce("102")], now=10)

        pending = store.intents.unresolved("contacts")
        assert [(i.source_id, i.idempotency_key, i.status) for i in pending] == [
            ("101", "hs-101", IntentStatus.PENDING),
            ("102", "hs-102", IntentStatus.PENDING),
        ]
        assert (pending[0].target_side, pending[0].target_type) == (Side.SALESFORCE, "Lead")

        created = store.intents.resolve_created(
            "contacts", Side.SALESFORCE, {"101": "00Q000000000000001"}, now=20
        )
        failed = store.intents.resolve_failed("contacts", Side.SALESFORCE, ["102"], now=21)

        assert (created, failed) == (1, 1)
        assert store.intents.unresolved() == []
        final = store.intents.get_many("contacts", Side.SALESFORCE, ["101", "102"])
        assert (final["101"].status, final["101"].target_id, final["101"].resolved_at) == (
            IntentStatus.CREATED,
            "00Q000000000000001",
            20,
        )
        assert final["102"].status is IntentStatus.FAILED

    def test_a_large_batch_resolves_every_intent_with_its_own_target(self, store: Store) -> None:
        sources = [str(n) for n in range(450)]  # past the bulk paths' small-batch threshold
        store.intents.record_many([to_salesforce(s) for s in sources])

        with store.transaction() as uow:
            created = {s: f"00Q{int(s):015d}" for s in sources[:300]}
            assert uow.intents.resolve_created("contacts", Side.SALESFORCE, created) == 300
            assert uow.intents.resolve_failed("contacts", Side.SALESFORCE, sources[300:]) == 150

        final = store.intents.get_many("contacts", Side.SALESFORCE, sources)
        assert [final[s].target_id for s in sources[:300]] == list(created.values())
        assert {final[s].status for s in sources[300:]} == {IntentStatus.FAILED}
        assert store.intents.unresolved() == []

    def test_a_crash_before_the_bookkeeping_commit_leaves_the_intent_unresolved(
        self, store: Store
    ) -> None:
        store.intents.record_many([to_salesforce("101")])  # committed before the send

        with pytest.raises(RuntimeError), store.transaction() as uow:
            uow.links.upsert_many([Link("contacts", "101", "Lead", "00Q000000000000001")])
            uow.intents.resolve_created("contacts", Side.SALESFORCE, {"101": "00Q000000000000001"})
            raise RuntimeError("killed before commit")

        assert [i.idempotency_key for i in store.intents.unresolved()] == ["hs-101"]
        assert store.links.count() == {}

    def test_retrying_a_failed_create_reopens_its_intent(self, store: Store) -> None:
        store.intents.record_many([to_salesforce("101")], now=1)
        store.intents.resolve_failed("contacts", Side.SALESFORCE, ["101"])

        store.intents.record_many([to_salesforce("101", key="hs-101-b")], now=5)

        (reopened,) = store.intents.unresolved()
        assert (reopened.attempts, reopened.idempotency_key, reopened.created_at) == (
            2,
            "hs-101-b",
            5,
        )
        assert (reopened.status, reopened.resolved_at) == (IntentStatus.PENDING, None)

    def test_a_pending_intent_cannot_change_its_idempotency_key(self, store: Store) -> None:
        store.intents.record_many([to_salesforce("101")])

        store.intents.record_many([to_salesforce("101")])  # same key: fine, one more attempt
        with pytest.raises(StoreError, match="still pending under key 'hs-101'"):
            store.intents.record_many([to_salesforce("101", key="other")])
        (intent,) = store.intents.unresolved()
        assert (intent.attempts, intent.idempotency_key) == (2, "hs-101")

    def test_unresolved_filters_by_pair_and_side(self, store: Store) -> None:
        store.intents.record_many(
            [
                to_salesforce("101"),
                NewIntent("contacts", Side.HUBSPOT, "003000000000000001", "sf-003"),
                NewIntent("companies", Side.HUBSPOT, "001000000000000001", "sf-001"),
            ]
        )

        assert len(store.intents.unresolved()) == 3
        assert [i.source_id for i in store.intents.unresolved("contacts", Side.HUBSPOT)] == [
            "003000000000000001"
        ]
        assert [i.pair for i in store.intents.unresolved("companies")] == ["companies"]

    def test_prune_deletes_only_old_resolved_intents(self, store: Store) -> None:
        store.intents.record_many([to_salesforce(str(n)) for n in range(3)])
        store.intents.resolve_created("contacts", Side.SALESFORCE, {"0": "a"}, now=100)
        store.intents.resolve_created("contacts", Side.SALESFORCE, {"1": "b"}, now=300)

        assert store.intents.prune(before=200) == 1
        left = store.intents.get_many("contacts", Side.SALESFORCE, ["0", "1", "2"])
        assert sorted(left) == ["1", "2"]


class TestIntentsSQLite(IntentsContract, SQLiteBackend):
    pass


class TestIntentsPostgres(IntentsContract, PostgresBackend):
    pass
