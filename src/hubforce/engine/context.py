"""What one sync cycle works with: clients, store, compiled mappings, options and its report."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from hubforce.connectors.hubspot.client import HubSpotClient
from hubforce.connectors.salesforce.client import SalesforceClient
from hubforce.store import Store
from hubforce.sync.fields import PairMapping
from hubforce.sync.model import Side


class WriteHook(Protocol):
    """Called after each batch write and before its bookkeeping (tests simulate crashes)."""

    def __call__(self, pair: str, side: Side, kind: str, count: int) -> None: ...


Progress = Callable[[str, int], None]
"""progress(pair, records_done_in_this_step)."""


def wall_clock_ms() -> int:
    """The engine's clock in epoch milliseconds."""
    return int(time.time() * 1000)


@dataclass(slots=True)
class CycleOptions:
    """How a cycle runs.

    `round_size` and `read_ahead` bound memory: a round holds at most `round_size` changed
    records per side, and at most `read_ahead` rounds are read ahead of the one in progress.
    `overlap_ms` re-reads a little before each cursor (late commits, search index lag); the
    snapshot comparison makes the re-read harmless.
    """

    dry_run: bool = False
    round_size: int = 2000
    read_ahead: int = 4
    overlap_ms: int = 5000
    pairs: tuple[str, ...] | None = None
    after_write: WriteHook | None = None
    progress: Progress | None = None
    # Asked at each round's end: True stops the cycle there (every round so far is recorded
    # with its cursors, so the next cycle resumes; `hubforce sync` on a first SIGTERM).
    stop_requested: Callable[[], bool] | None = None
    clock: Callable[[], int] = wall_clock_ms


@dataclass(slots=True)
class SyncContext:
    """Everything a cycle needs; built by `hubforce.engine.runner`."""

    hubspot: HubSpotClient
    salesforce: SalesforceClient
    store: Store
    mappings: dict[str, PairMapping]
    options: CycleOptions = field(default_factory=CycleOptions)


@dataclass(slots=True)
class PairReport:
    """What one cycle did for one object pair (also what a dry run prints)."""

    pair: str
    read: dict[str, int] = field(default_factory=dict)
    matched: int = 0
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)
    unlinked: int = 0
    relinked: int = 0
    blanked: dict[str, int] = field(default_factory=dict)
    conflicts: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    failure_examples: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    recovered: int = 0
    planned: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # wall time per phase
    stopped: bool = False  # ended at a round's end on request, before the signpost

    def clock(self, phase: str, started: float) -> float:
        """Add the time since `started` to `phase`; return now (the next phase's start)."""
        now = time.perf_counter()
        self.seconds[phase] = self.seconds.get(phase, 0.0) + now - started
        return now

    def bump(self, counter: dict[str, int], key: str, n: int = 1) -> None:
        """Add `n` to `counter[key]`."""
        if n:
            counter[key] = counter.get(key, 0) + n

    @property
    def writes(self) -> int:
        """Records written (created, updated or deleted) on either side."""
        return sum(self.created.values()) + sum(self.updated.values()) + sum(self.deleted.values())


@dataclass(slots=True)
class CycleReport:
    """One cycle over every enabled pair."""

    run_id: int | None
    pairs: list[PairReport] = field(default_factory=list)
    dry_run: bool = False
    stopped: bool = False  # ended early on request (`CycleOptions.stop_requested`)

    @property
    def writes(self) -> int:
        """Records written on either side, all pairs."""
        return sum(p.writes for p in self.pairs)

    @property
    def failures(self) -> int:
        """Record failures, all pairs."""
        return sum(sum(p.failures.values()) for p in self.pairs)

    def counts(self) -> dict[str, int]:
        """Flat counts for the run row in the store."""
        out: dict[str, int] = {}
        for report in self.pairs:
            for name in ("read", "created", "updated", "deleted", "conflicts", "failures"):
                for key, n in getattr(report, name).items():
                    out[f"{report.pair}.{name}.{key}"] = n
            out[f"{report.pair}.matched"] = report.matched
        return out
