"""The form-submissions catch-up: no form submission is missed by a form workflow.

Webhooks are the fast path, but a submission made while `hubforce run` was down, or whose
webhook HubSpot gave up on, would never run its workflow. The scheduler therefore runs
`FormCatchUp.run` at start-up and on the reconcile schedule: for each form some enabled
workflow triggers on, it reads the submissions (newest first) back to the form's cursor minus
`overlap_ms`, and runs every workflow of the form for each one, oldest first. A submission
already run (by a webhook or an earlier catch-up) finds its key taken in the ledger at no API
cost, so the overlap only costs reads.

The cursor (store `cursors` table, pair `form:<guid>`, side `hubspot`) is the newest
`submittedAt` up to which every submission was handled. It never moves past a submission that
was not: a read that failed, an answer of an unexpected shape (recorded as a failed workflow
run), or a run that gave its key back (refused for good before any effect) keeps it before that
submission, and the next catch-up tries again. A run waiting for a retry (refused for a passing
reason) is handled: the retrier (`workflows/retry.py`) runs it, holding its key meanwhile. On
the very first start there is no cursor: it is set to now, as older submissions are history
rather than missed events.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from hubforce.errors import HubforceError
from hubforce.workflows.engine import WorkflowEngine, handled
from hubforce.workflows.forms import Submission, SubmissionsShapeError
from hubforce.workflows.model import Workflow
from hubforce.workflows.runs import WorkflowRun

logger = logging.getLogger(__name__)

CURSOR_SIDE = "hubspot"
# Submissions reach the API a little after their submittedAt (and a client may set it):
# each catch-up looks this far behind its cursor again.
OVERLAP_MS = 10 * 60 * 1000
MAX_PAGES = 10_000  # 500,000 submissions per form and catch-up: a safety stop, not a policy


class CursorStore(Protocol):
    """Where the per-form cursors live (the store's `CursorRepository`)."""

    def get(self, pair: str, side: str) -> str | None:
        """The stored value, or None."""

    def set(self, pair: str, side: str, value: str) -> None:
        """Store the value."""


def cursor_name(form_guid: str) -> str:
    """The cursor's `pair` for a form (the column holds 64 characters)."""
    name = f"form:{form_guid}"
    if len(name) <= 64:
        return name
    return "form:" + hashlib.sha256(form_guid.encode()).hexdigest()[:40]


@dataclass
class CatchUpReport:
    """What one catch-up did."""

    forms: int = 0
    submissions: int = 0  # read inside the window (cursor - overlap onwards)
    runs: int = 0  # workflow runs recorded (already-run submissions make none)
    unhandled: int = 0  # submissions that keep their form's cursor back
    errors: list[str] = field(default_factory=list)


def _no_lock() -> AbstractAsyncContextManager[Any]:
    return contextlib.nullcontext()


class FormCatchUp:
    """Reads each configured form's submissions since its cursor and runs its workflows."""

    def __init__(
        self,
        engine: WorkflowEngine,
        cursors: CursorStore,
        *,
        lock: Callable[[], AbstractAsyncContextManager[Any]] = _no_lock,
        on_contact: Callable[[str], None] | None = None,
        now_ms: Callable[[], int] = lambda: int(time.time() * 1000),
        overlap_ms: int = OVERLAP_MS,
    ) -> None:
        self.engine = engine
        self.cursors = cursors
        self.lock = lock  # the contacts pair's lock: never beside a sync of that pair
        self.on_contact = on_contact  # e.g. queue a targeted sync of the contact
        self.now_ms = now_ms
        self.overlap_ms = overlap_ms
        self.last: CatchUpReport | None = None

    async def run(self) -> CatchUpReport:
        """One catch-up over every form (errors are recorded per form, never raised)."""
        report = CatchUpReport()
        for form_guid, workflows in self.engine.form_workflows().items():
            report.forms += 1
            try:
                await self._catch_up(form_guid, workflows, report)
            except Exception as exc:  # recorded as a failed run; the cursor stayed put
                await self._record_error(form_guid, workflows, exc, report)
        self.last = report
        return report

    async def _catch_up(
        self, form_guid: str, workflows: list[Workflow], report: CatchUpReport
    ) -> None:
        name = cursor_name(form_guid)
        stored = self.cursors.get(name, CURSOR_SIDE)
        cursor = int(stored) if stored is not None and stored.strip().isdigit() else None
        if cursor is None:
            if stored is not None:
                logger.warning("form %s: unreadable cursor %r, restarting now", form_guid, stored)
            self.cursors.set(name, CURSOR_SIDE, str(self.now_ms()))
            return
        window = await self._read_window(form_guid, cursor - self.overlap_ms)
        report.submissions += len(window)
        newest, first_unhandled = cursor, None
        for submission in window:  # oldest first
            done = True
            for workflow in workflows:
                async with self.lock():
                    run = await self.engine.run_submission(workflow, submission)
                if run is not None:
                    report.runs += 1
                    self._touched(run)
                done = done and handled(run)
            if not done:
                report.unhandled += 1
                if first_unhandled is None:
                    first_unhandled = submission.submitted_at
            newest = max(newest, submission.submitted_at)
        if first_unhandled is not None:
            # Everything before the first unhandled submission is done; it is read again.
            newest = first_unhandled - 1
        if newest != cursor:
            self.cursors.set(name, CURSOR_SIDE, str(newest))

    async def _read_window(self, form_guid: str, floor: int) -> list[Submission]:
        """Every submission at or after `floor`, oldest first, each once."""
        source = self.engine.submission_source()
        found: dict[tuple[str, int], Submission] = {}
        after: str | None = None
        seen_after: set[str] = set()
        for _ in range(MAX_PAGES):
            page = await source.submissions(form_guid, after)
            for submission in page.submissions:
                if submission.submitted_at >= floor:
                    # Offset paging over a newest-first list repeats an item when a new
                    # submission arrives mid-read; it never skips one.
                    identity = submission.conversion_id or submission.email or ""
                    found[(identity, submission.submitted_at)] = submission
            older = all(s.submitted_at < floor for s in page.submissions)
            if page.after is None or not page.submissions or older:
                return sorted(found.values(), key=lambda s: (s.submitted_at, s.conversion_id or ""))
            if page.after in seen_after:
                raise SubmissionsShapeError(form_guid, f"paging returned after={page.after} twice")
            seen_after.add(page.after)
            after = page.after
        raise SubmissionsShapeError(form_guid, f"more than {MAX_PAGES} pages since the cursor")

    def _touched(self, run: WorkflowRun) -> None:
        contact = run.trigger.get("object_id")
        if self.on_contact is not None and contact:
            self.on_contact(str(contact))

    async def _record_error(
        self, form_guid: str, workflows: list[Workflow], exc: Exception, report: CatchUpReport
    ) -> None:
        message = f"form catch-up: {type(exc).__name__}: {exc}"[:500]
        report.errors.append(message)
        if isinstance(exc, HubforceError):
            logger.warning("form %s: %s", form_guid, message)
        else:  # not one of ours: a bug, keep its traceback in the log
            logger.exception("form %s: catch-up failed", form_guid)
        now = self.now_ms()
        for workflow in workflows:
            run = WorkflowRun(
                workflow.name,
                f"{workflow.name}:form-catch-up:{form_guid}:{now}",
                {"type": workflow.trigger.type, "kind": "catch-up", "form": form_guid},
                now,
            )
            run.status, run.error, run.finished_at = "failed", message, self.now_ms()
            await self.engine.ledger.record(run)
