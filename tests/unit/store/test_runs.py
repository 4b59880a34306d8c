"""Runs: start, finish with counts, list, and close the ones a crash left running."""

from __future__ import annotations

import pytest

from hubforce.errors import StoreError
from hubforce.store import RunStatus, Store
from tests.unit.store.backends import PostgresBackend, SQLiteBackend


class RunsContract:
    def test_a_run_is_running_until_finished_with_its_counts(self, store: Store) -> None:
        run_id = store.runs.start("sync", now=1_000)
        running = store.runs.get(run_id)
        assert running is not None
        assert (running.status, running.started_at, running.finished_at) == (
            RunStatus.RUNNING,
            1_000,
            None,
        )

        counts = {"contacts.salesforce.created": 12, "contacts.hubspot.updated": 3}
        store.runs.finish(run_id, RunStatus.SUCCEEDED, counts=counts, message="ok", now=2_500)

        done = store.runs.get(run_id)
        assert done is not None
        assert (done.status, done.finished_at, done.counts, done.message) == (
            RunStatus.SUCCEEDED,
            2_500,
            counts,
            "ok",
        )

    def test_recent_lists_newest_first_and_filters_by_kind(self, store: Store) -> None:
        first = store.runs.start("backfill", now=1)
        second = store.runs.start("sync", now=2)
        third = store.runs.start("sync", now=3)

        assert [r.id for r in store.runs.recent()] == [third, second, first]
        assert [r.id for r in store.runs.recent(kind="backfill")] == [first]
        latest = store.runs.latest(kind="sync")
        assert latest is not None and latest.id == third
        assert store.runs.get(9_999) is None

    def test_runs_left_running_by_a_crash_are_marked_interrupted(self, store: Store) -> None:
        crashed = store.runs.start(now=1)
        finished = store.runs.start(now=2)
        store.runs.finish(finished, now=3)

        assert store.runs.mark_interrupted(now=10) == 1

        interrupted = store.runs.get(crashed)
        assert interrupted is not None
        assert (interrupted.status, interrupted.finished_at) == (RunStatus.INTERRUPTED, 10)
        untouched = store.runs.get(finished)
        assert untouched is not None and untouched.status is RunStatus.SUCCEEDED

    def test_finishing_an_unknown_run_is_a_store_error(self, store: Store) -> None:
        with pytest.raises(StoreError, match="run 42 does not exist"):
            store.runs.finish(42)


class TestRunsSQLite(RunsContract, SQLiteBackend):
    pass


class TestRunsPostgres(RunsContract, PostgresBackend):
    pass
