"""Runs: one row per sync cycle (or backfill, retry, dry run) with its outcome and counts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import Row, insert, select, update

from hubforce.errors import StoreError
from hubforce.store.session import Connect, now_ms
from hubforce.store.tables import runs


class RunStatus(StrEnum):
    """Where a run ended; `interrupted` marks a run found still `running` after a crash."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


@dataclass(frozen=True, slots=True)
class Run:
    """One run as stored; `counts` is free-form (e.g. {"contacts.hubspot.created": 12})."""

    id: int
    kind: str
    status: RunStatus
    started_at: int
    finished_at: int | None = None
    counts: dict[str, int] = field(default_factory=dict)
    message: str | None = None


def _to_run(row: Row[Any]) -> Run:
    return Run(
        id=row.id,
        kind=row.kind,
        status=RunStatus(row.status),
        started_at=row.started_at,
        finished_at=row.finished_at,
        counts=dict(row.counts),
        message=row.message,
    )


class RunRepository:
    """Start, finish and list runs."""

    def __init__(self, connect: Connect) -> None:
        self._connect = connect

    def start(self, kind: str = "sync", *, now: int | None = None) -> int:
        """Record a new running run and return its id."""
        row = {"kind": kind, "status": RunStatus.RUNNING.value, "counts": {}}
        with self._connect() as conn:
            result = conn.execute(insert(runs).values(started_at=now_ms(now), **row))
            run_id = result.inserted_primary_key
            assert run_id is not None
            return int(run_id[0])

    def finish(
        self,
        run_id: int,
        status: RunStatus = RunStatus.SUCCEEDED,
        *,
        counts: Mapping[str, int] | None = None,
        message: str | None = None,
        now: int | None = None,
    ) -> None:
        """Close run `run_id` with its status, counts and an optional message."""
        values: dict[str, Any] = {"status": RunStatus(status).value, "message": message}
        values["finished_at"] = now_ms(now)
        if counts is not None:
            values["counts"] = dict(counts)
        with self._connect() as conn:
            done = conn.execute(update(runs).where(runs.c.id == run_id).values(**values))
            if done.rowcount == 0:
                raise StoreError(f"run {run_id} does not exist", "start a run before finishing it")

    def get(self, run_id: int) -> Run | None:
        """One run, or None."""
        with self._connect() as conn:
            row = conn.execute(select(runs).where(runs.c.id == run_id)).one_or_none()
            return None if row is None else _to_run(row)

    def recent(self, limit: int = 10, *, kind: str | None = None) -> list[Run]:
        """The latest runs, newest first."""
        stmt = select(runs).order_by(runs.c.started_at.desc(), runs.c.id.desc()).limit(limit)
        if kind is not None:
            stmt = stmt.where(runs.c.kind == kind)
        with self._connect() as conn:
            return [_to_run(row) for row in conn.execute(stmt)]

    def latest(self, *, kind: str | None = None) -> Run | None:
        """The newest run, or None before the first."""
        found = self.recent(1, kind=kind)
        return found[0] if found else None

    def mark_interrupted(self, *, now: int | None = None) -> int:
        """Close runs left `running` by a crashed process; returns how many were closed.

        Call it while holding the pair's lock, before starting a run: with several workers, a
        run another live worker is doing would be closed too.
        """
        stmt = (
            update(runs)
            .where(runs.c.status == RunStatus.RUNNING.value)
            .values(status=RunStatus.INTERRUPTED.value, finished_at=now_ms(now))
        )
        with self._connect() as conn:
            return conn.execute(stmt).rowcount
