"""Workflow runs refused during an outage are run again later: which, when, for how long.

hubforce answers a webhook 2xx before its workflows run, so HubSpot never retries it: a run
that failed is only ever run again by hubforce itself. The policy:

- **Which.** A run that failed before any action had an effect, for a passing reason
  (`failure_of`: the side's credentials refused, a rate limit, a transient API error that
  outlasted the connector's retries, the state store unreachable), waits (`waiting`) and is
  retried automatically. A run that failed after an effect (a Lead created, then the HubSpot
  write-back refused) is never retried automatically (that could duplicate the effect); a
  permanent refusal (validation rule, picklist, required field, permission, a bug) would fail
  the same way again: both stay `failed`, with the reason, for a person (`hubforce retry
  --workflows` after a fix, for those without an effect).
- **When.** `WorkflowRetrier.run` on a schedule (every poll interval in `hubforce run`) takes
  the runs whose backoff elapsed (`RetryPolicy.delay_ms`: doubling from `first_delay_s`, capped
  at `max_delay_s`); `wake()` (a Reconnector recovery listener) takes every waiting run at
  once, as the side they waited for works again. Runs waiting for a side known to be refused
  (`blocked`) are left alone, spending no attempt: its recovery wakes them.
- **For how long.** `max_age_s` (3 days by default, as HubSpot's own retries of a workflow
  webhook) after the first failure, the run is `abandoned` with the reason in its error; a
  scheduled workflow's run only until its next slot.

- **After a crash.** Each pass first settles the runs a killed process left `running` once
  their lease ended (`WorkflowEngine.recover`): those safe to run again wait, due now, and
  are retried in the same pass; the others become `interrupted` for a person. The pass at
  start-up does it for a restarted service.

A retry claims the run's own idempotency key (`RunLedger.claim(retrying=True)`), so a retry
racing a redelivered webhook, the form catch-up or another process still acts once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from hubforce.alerts.notices import store_unavailable
from hubforce.errors import Category, ConnectorError
from hubforce.workflows.runs import WorkflowRun

if TYPE_CHECKING:
    from hubforce.workflows.engine import WorkflowEngine

logger = logging.getLogger(__name__)

#: Categories of a failure that passes without anyone changing anything (credentials renewed
#: while running count: `hubforce connect` or an edited file is picked up by the service).
PASSING = frozenset({Category.AUTHENTICATION, Category.RATE_LIMIT, Category.TRANSIENT})
STORE = "store"  # the failure category of an unreachable state store


@dataclass(frozen=True, slots=True)
class Failure:
    """Why an attempt failed: a `Category` value (or "store"), whether it passes by itself,
    and the side it came from (None: the store, a hook, unknown)."""

    category: str
    passing: bool
    side: str | None = None


def failure_of(error: BaseException) -> Failure:
    """The failure an exception raised by a read or an action stands for."""
    if isinstance(error, ConnectorError):
        return Failure(error.category.value, error.category in PASSING, error.side)
    if store_unavailable(error):
        return Failure(STORE, True)
    if isinstance(error, httpx.TransportError):  # connectors wrap these; a bare one passes too
        return Failure(Category.TRANSIENT.value, True)
    # A configuration problem or a bug: the same attempt would fail the same way.
    return Failure(Category.UNKNOWN.value, False)


def failure_of_category(category: str | None, side: str | None) -> Failure:
    """The failure of an action refused with `category` (a refused record, a hook's answer)."""
    value = category or Category.UNKNOWN.value
    return Failure(value, value in {c.value for c in PASSING}, side)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Capped exponential backoff per run and the age after which a run is given up."""

    first_delay_s: float = 30.0
    max_delay_s: float = 3600.0
    max_age_s: float = 3 * 24 * 3600.0

    def delay_ms(self, attempts: int) -> int:
        """Milliseconds before the next attempt after `attempts` failed ones."""
        exponent = min(max(attempts, 1) - 1, 32)  # 2**32 is far past any cap
        return int(min(self.max_delay_s, self.first_delay_s * 2**exponent) * 1000)

    def next_attempt(self, attempts: int, since: int, now: int, max_age_ms: int) -> int | None:
        """When to try again after `attempts` failed ones since `since`; None when the run is
        past its maximum age (give up). The last attempt falls on the maximum age itself."""
        deadline = since + max_age_ms
        if now >= deadline:
            return None
        return min(now + self.delay_ms(attempts), deadline)

    @property
    def max_age_ms(self) -> int:
        """`max_age_s` in milliseconds."""
        return int(self.max_age_s * 1000)

    @property
    def stale_ms(self) -> int:
        """A waiting run found this long past its maximum age (the service was stopped) is
        abandoned without another attempt."""
        return int(self.max_delay_s * 1000)


@dataclass
class RetryReport:
    """What one pass did."""

    due: int = 0  # waiting runs looked at
    retried: int = 0  # claimed and run again
    succeeded: int = 0
    waiting: int = 0  # failed again for a passing reason: waiting longer
    abandoned: int = 0
    blocked: int = 0  # left alone: their side is known to be refused
    taken: int = 0  # someone else held the key (a redelivery, the catch-up, another process)
    replayed: int = 0  # events whose claim the store refused earlier, run now
    written: int = 0  # run records the store refused earlier, written now
    recovered: int = 0  # left running by a dead process, safe to run again: waiting, due now
    interrupted: int = 0  # left running by a dead process, not safe: for a person


def _no_lock(_side: str | None, _object_type: str | None) -> AbstractAsyncContextManager[Any]:
    return contextlib.nullcontext()


class WorkflowRetrier:
    """Runs waiting workflow runs again (see the module docstring)."""

    def __init__(
        self,
        engine: WorkflowEngine,
        *,
        lock_for: Callable[[str | None, str | None], AbstractAsyncContextManager[Any]] = _no_lock,
        on_record: Callable[[str, str, str], None] | None = None,
        blocked: Callable[[str | None], bool] = lambda _side: False,
        on_interrupted: Callable[[list[str]], Awaitable[None]] | None = None,
        now_ms: Callable[[], int] = lambda: int(time.time() * 1000),
        batch: int = 100,
    ) -> None:
        self.engine = engine
        self.lock_for = lock_for  # the pair's lock: never beside a sync of that record's pair
        self.on_record = on_record  # (side, object type, id) after a retry succeeded
        self.blocked = blocked
        self.on_interrupted = on_interrupted  # keys of the runs a pass found interrupted
        self.now_ms = now_ms
        self.batch = batch
        self.passes = 0
        self.last: RetryReport | None = None
        self._pass = asyncio.Lock()
        self._woken = False
        self._task: asyncio.Task[None] | None = None
        self._stopped = False

    def wake(self) -> None:
        """Retry every waiting run now (a recovery listener: called inside an attempt, so it
        only starts a task; a pass already running is followed by one more)."""
        if self._stopped:
            return
        self._woken = True
        if self._task is not None and not self._task.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a synchronous caller): the next scheduled pass runs it
            return
        self._task = loop.create_task(self._after_wake())

    async def _after_wake(self) -> None:
        while self._woken and not self._stopped:
            self._woken = False
            try:
                await self.run(everything=True)
            except Exception:  # the scheduled pass tries again; never kill the listener task
                logger.exception("workflow retry after a recovery failed")

    async def stop(self) -> None:
        """Let a pass started by `wake` finish; start no more."""
        self._stopped = True
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def run(self, *, everything: bool = False) -> RetryReport:
        """One pass: write what the store refused earlier, run the events it could not claim,
        then retry the waiting runs that are due (all of them with `everything`)."""
        async with self._pass:
            report = RetryReport()
            report.written = await self.engine.flush_unwritten()
            for parked in self.engine.take_parked():
                async with self.lock_for(parked.event.side.value, parked.event.object_type):
                    run = await self.engine.replay(parked)
                if run is not None:
                    report.replayed += 1
            # Before the due runs: a recovered run waits due now and is retried in this pass.
            # Leases are judged by the ledger's clock (the one that gave them), not the pass's.
            recovery = await self.engine.recover()
            report.recovered, report.interrupted = recovery.waiting, recovery.interrupted
            if recovery.interrupted and self.on_interrupted is not None:
                try:  # one call per pass: one alert per batch, never one per run
                    await self.on_interrupted(recovery.keys)
                except Exception:  # an alert never stops the retries
                    logger.exception("the alert about interrupted workflow runs failed")
            started = self.now_ms()
            after: tuple[int, str] | None = None
            seen: set[str] = set()  # a run that waits again moves on in the order: once a pass
            while True:
                due = await self.engine.ledger.due(
                    started, everything=everything, after=after, limit=self.batch
                )
                for waiting in due:
                    if waiting.key not in seen:
                        seen.add(waiting.key)
                        await self._retry(waiting, report)
                if len(due) < self.batch:
                    break
                last = due[-1]
                after = (last.next_attempt_at or 0, last.key)
            self.passes += 1
            self.last = report
            if report.retried or report.replayed:
                logger.info(
                    "workflow retries: %d run again (%d succeeded, %d waiting, %d abandoned), "
                    "%d events replayed, %d resumed after a stopped process",
                    report.retried,
                    report.succeeded,
                    report.waiting,
                    report.abandoned,
                    report.replayed,
                    report.recovered,
                )
            return report

    async def _retry(self, waiting: WorkflowRun, report: RetryReport) -> None:
        report.due += 1
        if self.blocked(waiting.failure_side):
            report.blocked += 1
            return
        trigger = waiting.trigger
        async with self.lock_for(trigger.get("side"), trigger.get("object_type")):
            run = await self.engine.retry(waiting)
        if run is None:
            report.taken += 1
            return
        report.retried += 1
        if run.status == "succeeded":
            report.succeeded += 1
            side, object_type = trigger.get("side"), trigger.get("object_type")
            record_id = trigger.get("object_id")
            if self.on_record is not None and side and object_type and record_id:
                # As after a webhook: the record's targeted sync then links what was created.
                self.on_record(str(side), str(object_type), str(record_id))
        elif run.status == "waiting":
            report.waiting += 1
        elif run.status == "abandoned":
            report.abandoned += 1


__all__ = [
    "PASSING",
    "Failure",
    "RetryPolicy",
    "RetryReport",
    "WorkflowRetrier",
    "failure_of",
    "failure_of_category",
]
