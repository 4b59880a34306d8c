"""Running workflows for change events: match trigger, read the record, test, act, record.

Idempotency: before any action runs the run's key (workflow + the change's identity) is
claimed in the ledger; a redelivered or duplicated change finds it claimed and does nothing.
hubforce answers webhooks before their workflows run, so HubSpot never retries one: a run
that fails is run again by hubforce or not at all. A run that fails before its first action
had an effect, for a passing reason (credentials refused, a rate limit, a transient API
error, the store unreachable), keeps its key and waits (`waiting`) for the retrier
(`workflows/retry.py`), which claims the same key again, re-reads the record and acts; one
refused for good (validation, picklist, a bug...) gives its key back (`failed`, released: a
redelivery or the form catch-up may run it again, and `hubforce retry --workflows` makes it
wait for the retrier after a fix); a run that failed after an effect keeps its key (no double
Lead) and is recorded as failed for someone to look at, never retried automatically.

A killed process (SIGKILL, OOM, power loss) leaves its runs `running`: each claim has a lease,
renewed by a checkpoint before the record is read and before each action (the trigger and the
actions done so far), and `recover` settles the runs whose lease ended, on each retrier pass
(the first at start-up). The checkpoint before an action is what tells which action was under
way (a run whose checkpoint fails stops before the action: it waits like a refused one), so
the actions before it are done and those after it never started. A run with no action under
way, or an idempotent one (`actions.idempotent`), waits for the retrier, due now, and resumes
at that action, the done ones carried over; one killed during an action that is not
idempotent is `interrupted`, its error saying what to check and how to run it again
(`hubforce retry --workflows --interrupted`).

The store itself may be briefly unreachable: an event whose key could not be claimed is parked
in memory (`parked`) and run again by the retrier's next pass; a finished run the store did
not take is kept (`unwritten`) and written then. Both are lost if the process stops first.

Form triggers: a `recent_conversion_date` change is confirmed as a submission of the trigger's
form through the submissions API (form GUID, the contact's e-mail, submittedAt against the
conversion date); the run's key is then the submission's (`forms.submission_key`), which the
form catch-up (`workflows/catchup.py`) claims too, so whichever path sees a submission first
runs it and the other finds it taken. A form event whose submission cannot be confirmed now
(API error) is recorded as failed without claiming anything: the catch-up runs it later.
"""

from __future__ import annotations

import logging
import re
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from hubforce.alerts.notices import store_unavailable
from hubforce.server.events import ChangeEvent
from hubforce.sync.model import Side
from hubforce.workflows.actions import ActionError, ActionRunner, idempotent
from hubforce.workflows.conditions import Node, matches, parse_condition
from hubforce.workflows.forms import (
    DATE_TOLERANCE_MS,
    Submission,
    SubmissionSource,
    conversion_ms,
    matching_submission,
    submission_detail,
    submission_key,
)
from hubforce.workflows.model import (
    Action,
    FormSubmitted,
    OutboundWebhook,
    SalesforceCreate,
    Schedule,
    SlackPost,
    Workflow,
    action_side,
)
from hubforce.workflows.retry import Failure, RetryPolicy, failure_of, failure_of_category
from hubforce.workflows.runs import ActionResult, RunLedger, WorkflowRun
from hubforce.workflows.templates import template_fields
from hubforce.workflows.triggers import (
    FORM_DATE_PROPERTY,
    FORM_NAME_PROPERTY,
    PreviousValues,
    fires,
    form_matches,
    idempotency_key,
)

logger = logging.getLogger(__name__)

_ACTION_REF = re.compile(r"^action\d+\.")
# A webhook is processed seconds after its submission: the first page (50) nearly always has it.
CONFIRM_PAGES = 4
# A submission whose e-mail has no contact yet may be waiting for HubSpot to process it: the
# catch-up retries it for this long before recording it as skipped.
CONTACT_GRACE_MS = 60 * 60 * 1000
# Filled in by the engine and the reader (the record's id, its linked twin's ids), never read.
FILLED_IN = frozenset({"Id", "hs_object_id", "hubspot_id", "salesforce_id"})
# Events waiting in memory for an unreachable store (and unwritten run records), at most.
MAX_PARKED = 10_000
MANUAL_RETRY = "after a fix: `hubforce retry --workflows`"
INTERRUPTED_RETRY = "hubforce retry --workflows --interrupted"
#: The failure category of a run whose process died under it.
INTERRUPTED = "interrupted"


class RecordReader(Protocol):
    """Reads one record's fields on one side (None if it no longer exists)."""

    async def read_record(
        self, side: Side, object_type: str, record_id: str, fields: Sequence[str]
    ) -> dict[str, Any] | None:
        """The record's values for `fields`."""


def _condition_fields(node: Node) -> set[str]:
    if node.op == "field":
        return {str(node.args[0])}
    found: set[str] = set()
    for arg in node.args:
        if isinstance(arg, Node):
            found |= _condition_fields(arg)
    return found


def fields_needed(workflow: Workflow) -> list[str]:
    """Every record field the workflow's condition and templates read."""
    names: set[str] = set()
    if workflow.condition:
        names |= _condition_fields(parse_condition(workflow.condition))
    if isinstance(workflow.trigger, FormSubmitted):
        names |= {"email", FORM_DATE_PROPERTY}
        if workflow.trigger.form_name:
            names.add(FORM_NAME_PROPERTY)
    where = getattr(workflow.trigger, "where", None)
    if where:
        names |= _condition_fields(parse_condition(where))
    for action in workflow.actions:
        for value in action.model_dump(by_alias=True).values():
            if isinstance(value, str):
                names.update(template_fields(value))
            elif isinstance(value, dict):
                for inner in value.values():
                    if isinstance(inner, str):
                        names.update(template_fields(inner))
    # Results of earlier actions (`{action1.id}`) and the record's id are filled in, not read.
    return sorted(n for n in names if not _ACTION_REF.match(n) and n not in FILLED_IN)


@dataclass
class Recovery:
    """What one `recover` pass did with runs left `running` by a dead process."""

    found: int = 0  # running rows whose lease had ended
    waiting: int = 0  # safe to run again: the retrier resumes them
    interrupted: int = 0  # an action not idempotent may have run: a person checks
    released: int = 0  # nothing started and no record to read again: the key is given back
    taken: int = 0  # renewed or settled meanwhile by another process
    keys: list[str] = field(default_factory=list)  # the interrupted runs' keys


@dataclass(frozen=True, slots=True)
class ParkedEvent:
    """An event whose run could not be claimed because the store was unreachable."""

    workflow: Workflow
    event: ChangeEvent
    since: int  # when it was first parked (epoch ms)


class WorkflowEngine:
    """Holds the enabled workflows and runs them for events."""

    def __init__(
        self,
        workflows: Sequence[Workflow],
        *,
        reader: RecordReader,
        runner: ActionRunner,
        ledger: RunLedger,
        forms: SubmissionSource | None = None,
        retry: RetryPolicy | None = None,
        max_parked: int = MAX_PARKED,
    ) -> None:
        self.workflows = [w for w in workflows if w.enabled]
        self.reader = reader
        self.runner = runner
        self.ledger = ledger
        self.forms = forms
        self.retry_policy = retry or RetryPolicy()
        self.max_parked = max_parked
        self.previous = PreviousValues()
        #: Events whose key the store could not claim, run again by the retrier's next pass.
        self.parked: OrderedDict[tuple[str, tuple[str, ...]], ParkedEvent] = OrderedDict()
        #: Finished runs the store did not take, written by the retrier's next pass.
        self.unwritten: OrderedDict[str, WorkflowRun] = OrderedDict()
        self._by_name = {w.name: w for w in self.workflows}
        self._fields = {w.name: fields_needed(w) for w in self.workflows}
        if forms is None and self.form_workflows():
            raise ValueError("form triggers need a SubmissionSource (the submissions API)")

    def form_workflows(self) -> dict[str, list[Workflow]]:
        """Enabled form-triggered workflows by form GUID."""
        by_form: dict[str, list[Workflow]] = {}
        for workflow in self.workflows:
            if isinstance(workflow.trigger, FormSubmitted):
                by_form.setdefault(workflow.trigger.form, []).append(workflow)
        return by_form

    async def handle(self, event: ChangeEvent, *, current: bool = True) -> list[WorkflowRun]:
        """Run every workflow `event` fires; `current` is False for an out-of-order older change."""
        previous = self.previous.swap(event) if current else (False, None)
        runs: list[WorkflowRun] = []
        for workflow in self.workflows:
            if isinstance(workflow.trigger, Schedule) or not current:
                continue
            if not fires(workflow.trigger, event, previous):
                continue
            run = await self._claimed_run(workflow, event, _now())
            if run is not None:
                runs.append(run)
        return runs

    async def _claimed_run(
        self, workflow: Workflow, event: ChangeEvent, since: int
    ) -> WorkflowRun | None:
        try:
            return await self._run(workflow, event)
        except Exception as exc:
            if not store_unavailable(exc):
                raise
            # Nothing was claimed (claims are the store calls that are not guarded): the
            # retrier's next pass runs the event again once the store answers.
            self._park(ParkedEvent(workflow, event, since), exc)
            return None

    def _park(self, parked: ParkedEvent, exc: BaseException) -> None:
        key = (parked.workflow.name, parked.event.dedupe_key)
        self.parked[key] = parked
        self.parked.move_to_end(key)
        if len(self.parked) > self.max_parked:
            (_, dropped) = self.parked.popitem(last=False)
            logger.error(
                "workflow %s: more than %d events wait for the store; the oldest (%s %s) is "
                "dropped and will not run",
                dropped.workflow.name,
                self.max_parked,
                dropped.event.object_type,
                dropped.event.object_id,
            )
        if len(self.parked) == 1:  # one line per outage, not one per event
            logger.warning(
                "workflows: the store is unreachable (%s); events wait in memory (the first: "
                "%s %s for %s) and run when it answers again",
                type(exc).__name__,
                parked.event.object_type,
                parked.event.object_id,
                parked.workflow.name,
            )

    def take_parked(self) -> list[ParkedEvent]:
        """The parked events, oldest first (the caller runs each with `replay`)."""
        parked = list(self.parked.values())
        self.parked.clear()
        return parked

    async def replay(self, parked: ParkedEvent) -> WorkflowRun | None:
        """Run a parked event's workflow now (parked again if the store is still down). The
        trigger is not checked again: it fired when the event arrived."""
        if _now() - parked.since > self._max_age_ms(parked.workflow):
            logger.error(
                "workflow %s: the event of %s %s waited for the store past the maximum age; "
                "it is dropped and will not run",
                parked.workflow.name,
                parked.event.object_type,
                parked.event.object_id,
            )
            return None
        return await self._claimed_run(parked.workflow, parked.event, parked.since)

    async def _record(self, run: WorkflowRun) -> None:
        """Record `run`; when the store is unreachable keep it for `flush_unwritten`."""
        try:
            await self.ledger.record(run)
        except Exception as exc:
            if not store_unavailable(exc):
                raise
            self.unwritten[run.key] = run
            self.unwritten.move_to_end(run.key)
            while len(self.unwritten) > self.max_parked:
                self.unwritten.popitem(last=False)
            if len(self.unwritten) == 1:  # one line per outage, not one per run
                logger.warning(
                    "workflows: the store is unreachable (%s); run records (the first: %s %s) "
                    "are written when it answers again",
                    type(exc).__name__,
                    run.key,
                    run.status,
                )

    async def flush_unwritten(self) -> int:
        """Write the runs the store refused earlier; returns how many were written."""
        written = 0
        while self.unwritten:
            key, run = next(iter(self.unwritten.items()))
            await self.ledger.record(run)  # still down: raised, kept for the next pass
            del self.unwritten[key]
            written += 1
        return written

    async def run_scheduled(self, workflow: Workflow, slot: int) -> WorkflowRun | None:
        """Run a schedule-triggered workflow once for time slot `slot`."""
        key = f"{workflow.name}:schedule:{slot}"
        if not await self.ledger.claim(key):
            return None
        return await self._act(workflow, key, {"type": "schedule", "slot": slot}, {})

    async def run_submission(
        self, workflow: Workflow, submission: Submission
    ) -> WorkflowRun | None:
        """Run a form workflow for a submission the catch-up read (None: it already ran)."""
        key = submission_key(workflow.name, submission)
        if not await self.ledger.claim(key):
            return None
        trigger: dict[str, Any] = {
            "type": workflow.trigger.type,
            "side": Side.HUBSPOT.value,
            "object_type": "contacts",
            "object_id": None,
            "kind": "catch-up",
            "event_id": None,
            "occurred_at": submission.submitted_at,
            **submission_detail(submission),
        }
        email = submission.email
        if email is None:
            return await self._skip(workflow, key, trigger, "the submission has no e-mail")
        try:
            contact = await self.submission_source().contact_id(email)
            record = None
            if contact is not None:
                trigger["object_id"] = contact
                fields = self._fields[workflow.name]
                record = await self.reader.read_record(Side.HUBSPOT, "contacts", contact, fields)
        except Exception as exc:  # nothing happened yet: the next catch-up runs it again
            return await self._unclaimed_failure(workflow, key, trigger, _brief(exc))
        if record is None:
            if _now() - submission.submitted_at < CONTACT_GRACE_MS:
                why = "no contact has the submitted e-mail yet; the next catch-up looks again"
                return await self._unclaimed_failure(workflow, key, trigger, why)
            return await self._skip(workflow, key, trigger, "no contact has the submitted e-mail")
        record = {**record, "hs_object_id": trigger["object_id"]}
        return await self._test_and_act(workflow, key, trigger, record)

    async def recover(self, now: int | None = None, *, batch: int = 100) -> Recovery:
        """Settle the runs left `running` by a process that died: their lease ended before
        `now` (default: the ledger's clock, which gave the leases; see the module docstring).
        Several processes may recover at once: each row is settled by one of them."""
        report = Recovery()
        seen: set[str] = set()
        while True:
            expired = await self.ledger.expired(now, limit=batch)
            stale = [r for r in expired if r.key not in seen]
            for found in stale:
                seen.add(found.key)
                report.found += 1
                run = self._recovered(found, _now())
                if not await self.ledger.settle_expired(run, now):
                    report.taken += 1
                elif run.status == "waiting":
                    report.waiting += 1
                elif run.status == "interrupted":
                    report.interrupted += 1
                    report.keys.append(run.key)
                    logger.error("workflow %s run %s %s", run.workflow, run.key, run.error)
                else:
                    report.released += 1
            if len(expired) < batch or not stale:
                break
        if report.found - report.taken:  # one line per pass, not one per run
            logger.warning(
                "workflows: %d run(s) left running by a stopped process: %d resume now, %d "
                "interrupted (check them, then `%s`), %d given back",
                report.found - report.taken,
                report.waiting,
                report.interrupted,
                INTERRUPTED_RETRY,
                report.released,
            )
        return report

    def _recovered(self, stale: WorkflowRun, now: int) -> WorkflowRun:
        """What an expired running run becomes: waiting (safe to run again), interrupted, or
        failed and released (nothing started, nothing to read again)."""
        run = _settled_copy(stale, now)
        workflow = self._by_name.get(stale.workflow)
        done = len(_done(stale))
        started = stale.actions_started
        stopped = "the process running it stopped (killed, out of memory or a power loss)"
        if started is None or workflow is None:
            why = (
                "it was claimed before hubforce recorded a run's progress"
                if started is None
                else "its workflow is no longer enabled"
            )
            run.status = "interrupted"
            run.error = (
                f"interrupted: {stopped} and {why}, so what its actions did is unknown; check "
                f"them, then `{INTERRUPTED_RETRY}` runs it again (only if none had run)"
            )
            return run
        if _actions_changed(stale, workflow):
            return _changed_under(stale, workflow, now)
        if started <= done:  # no action under way: nothing can be repeated
            trigger = stale.trigger
            readable = isinstance(workflow.trigger, Schedule) or all(
                trigger.get(k) for k in ("side", "object_type", "object_id")
            )
            if not readable:
                run.status = "failed"  # released: a redelivery or the form catch-up runs it
                run.error = f"interrupted before any action: {stopped}; its key is given back"
                return run
            return _waiting_again(run, now, f"interrupted before action {done + 1}: {stopped}")
        # A checkpoint is saved before each action starts, and a run whose checkpoint fails
        # stops (`_act`): the actions before `started` are done, `started` itself may have
        # run, the later ones never started. Only `started` can be repeated by running the
        # run again from it, so it alone decides.
        total = len(workflow.actions)
        first = done + 1
        under_way = workflow.actions[started - 1] if started <= total else None
        if under_way is None or idempotent(under_way):
            what = under_way.type if under_way is not None else "an action"
            why = (
                f"interrupted during action {started} ({what}, safe to run again): {stopped}; "
                f"it resumes at action {first}"
            )
            return _waiting_again(run, now, why)
        finished = f"{_actions_named(1, done)} done, " if done else ""
        later = f"; {_actions_named(started + 1, total)} did not start" if started < total else ""
        run.status = "interrupted"
        run.error = (
            f"interrupted during action {started} of {total} ({under_way.type}, not safe to "
            f"repeat): {stopped}; {finished}action {started} may or may not have run{later}. "
            f"Check for {_what_to_check(under_way)}. If there is none, `{INTERRUPTED_RETRY}` "
            f"runs it again from action {first}; if there is, "
            + (f"do {_actions_named(started + 1, total)} by hand" if later else "nothing is left")
        )
        return run

    async def _checkpoint(self, run: WorkflowRun) -> bool:
        """Save the run's progress and renew its lease; False: the lease ended and another
        process recovered the run, so this one must not act any further."""
        if await self.ledger.checkpoint(run):
            return True
        run.status = "running"  # returned as it stands, recorded by whoever took it over
        logger.error(
            "workflow %s run %s: its lease ended and another process took it over; this "
            "process stops it here (after action %d)",
            run.workflow,
            run.key,
            len(run.actions),
        )
        return False

    async def retry(self, waiting: WorkflowRun) -> WorkflowRun | None:
        """Run a `waiting` run again (None: someone else holds its key now): claim its key,
        re-read the record (its current values), check the condition again, act."""
        if not await self.ledger.claim(waiting.key, retrying=True):
            return None
        workflow = self._by_name.get(waiting.workflow)
        trigger = dict(waiting.trigger)
        if workflow is None:
            why = "the workflow is no longer enabled in the configuration"
            return await self._abandon(waiting, trigger, why)
        if _actions_changed(waiting, workflow):
            run = _changed_under(waiting, workflow, _now())
            await self._record(run)
            logger.error("workflow %s run %s %s", run.workflow, run.key, run.error)
            return run
        since = waiting.retry_since if waiting.retry_since is not None else waiting.started_at
        max_age = self._max_age_ms(workflow)
        if _now() - since > max_age + self.retry_policy.stale_ms:
            why = f"found past its maximum age ({_span(max_age)}; hubforce run was not running)"
            return await self._abandon(waiting, trigger, why)
        if isinstance(workflow.trigger, Schedule):
            return await self._act(workflow, waiting.key, trigger, {}, prior=waiting)
        side, object_type, object_id = (
            trigger.get(k) for k in ("side", "object_type", "object_id")
        )
        if not (side and object_type and object_id):
            return await self._abandon(waiting, trigger, "its trigger names no record to read")
        # The trigger itself is not checked again. A "from"/"to" property trigger compared the
        # event's value with the previous value this server saw, and passed, when the event
        # arrived; the record has moved on since, and so have the values seen. A form run's
        # submission was confirmed by GUID then. What is checked again, on the current
        # values, is the trigger's `where` and the workflow's condition (`_test_and_act`).
        return await self._read_and_act(
            workflow, waiting.key, trigger, Side(side), str(object_type), str(object_id), waiting
        )

    async def _abandon(
        self, waiting: WorkflowRun, trigger: dict[str, Any], why: str
    ) -> WorkflowRun:
        """Record a claimed waiting run as given up without another attempt."""
        run = WorkflowRun(waiting.workflow, waiting.key, trigger, _now(), dict(waiting.inputs))
        run.actions = _done(waiting)  # a resumed run's actions done before its process died
        run.attempts, run.retry_since = waiting.attempts, waiting.retry_since
        run.failure_category, run.failure_side = waiting.failure_category, waiting.failure_side
        run.status, run.finished_at = "abandoned", _now()
        run.error = f"abandoned: {why}; last error: {waiting.error}; {MANUAL_RETRY}"
        await self._record(run)
        logger.warning("workflow %s run %s %s", run.workflow, run.key, run.error)
        return run

    def _max_age_ms(self, workflow: Workflow) -> int:
        """How long a run of `workflow` is retried: a scheduled one only until its next slot."""
        max_age = self.retry_policy.max_age_ms
        if isinstance(workflow.trigger, Schedule):
            return min(max_age, workflow.trigger.every_seconds * 1000)
        return max_age

    def submission_source(self) -> SubmissionSource:
        """The submissions API reader (form triggers have one: checked at construction)."""
        if self.forms is None:
            raise RuntimeError("form triggers need a SubmissionSource (the submissions API)")
        return self.forms

    async def _unclaimed_failure(
        self,
        workflow: Workflow,
        key: str,
        trigger: dict[str, Any],
        error: str,
        *,
        release: bool = True,
    ) -> WorkflowRun:
        """Record a failed run holding no key: whoever sees the change next may run it."""
        if release:
            await self.ledger.release(key)
        run = WorkflowRun(workflow.name, key, trigger, _now())
        run.status, run.error, run.finished_at = "failed", error, _now()
        await self._record(run)
        return run

    async def _run_form_event(
        self, workflow: Workflow, form: FormSubmitted, event: ChangeEvent
    ) -> WorkflowRun | None:
        event_key = idempotency_key(workflow.name, event)
        trigger = self._trigger_of(workflow, event)
        fields = self._fields[workflow.name]
        try:
            record = await self.reader.read_record(
                Side.HUBSPOT, event.object_type, event.object_id, fields
            )
        except Exception as exc:  # nothing claimed: the form catch-up finds the submission
            error = _brief(exc)
            return await self._unclaimed_failure(workflow, event_key, trigger, error, release=False)
        if record is None:
            return await self._skip_event(workflow, event_key, trigger, "record no longer exists")
        record = {**record, "hs_object_id": event.object_id}
        if not form_matches(form, record):
            return await self._skip_event(workflow, event_key, trigger, "another form")
        converted = conversion_ms(event.property_value)
        if converted is None:
            converted = conversion_ms(record.get(FORM_DATE_PROPERTY))
        if converted is None:
            why = f"{FORM_DATE_PROPERTY} {event.property_value!r} is not a date"
            return await self._unclaimed_failure(workflow, event_key, trigger, why, release=False)
        try:
            submission = await self._confirm(form.form, record.get("email"), converted)
        except Exception as exc:  # nothing claimed: the form catch-up finds the submission
            why = f"confirming the submission: {_brief(exc)}"
            return await self._unclaimed_failure(workflow, event_key, trigger, why, release=False)
        if submission is None:
            return await self._skip_event(workflow, event_key, trigger, "another form")
        key = submission_key(workflow.name, submission)
        if not await self.ledger.claim(key):
            return None  # a redelivery, or the catch-up ran it first
        trigger.update(submission_detail(submission))
        return await self._test_and_act(workflow, key, trigger, record)

    async def _confirm(self, form: str, email: object, converted: int) -> Submission | None:
        """The form's submission by `email` at `converted`, reading newest first."""
        source = self.submission_source()
        after: str | None = None
        for _ in range(CONFIRM_PAGES):
            page = await source.submissions(form, after)
            found = matching_submission(page.submissions, str(email or ""), converted)
            if found is not None:
                return found
            older = [s for s in page.submissions if s.submitted_at < converted - DATE_TOLERANCE_MS]
            if page.after is None or not page.submissions or len(older) == len(page.submissions):
                return None
            after = page.after
        return None

    async def _skip_event(
        self, workflow: Workflow, key: str, trigger: dict[str, Any], why: str
    ) -> WorkflowRun | None:
        if not await self.ledger.claim(key):
            return None
        return await self._skip(workflow, key, trigger, why)

    @staticmethod
    def _trigger_of(workflow: Workflow, event: ChangeEvent) -> dict[str, Any]:
        """What the run records of its event: all a retry needs to find the record again."""
        return {
            "type": workflow.trigger.type,
            "side": event.side.value,
            "object_type": event.object_type,
            "object_id": event.object_id,
            "kind": event.kind,
            "event_id": event.event_id,
            "occurred_at": event.occurred_at,
            "property": event.property_name,
            "value": event.property_value,
        }

    async def _run(self, workflow: Workflow, event: ChangeEvent) -> WorkflowRun | None:
        if isinstance(workflow.trigger, FormSubmitted):
            return await self._run_form_event(workflow, workflow.trigger, event)
        key = idempotency_key(workflow.name, event)
        if not await self.ledger.claim(key):
            return None
        trigger = self._trigger_of(workflow, event)
        return await self._read_and_act(
            workflow, key, trigger, event.side, event.object_type, event.object_id
        )

    async def _read_and_act(
        self,
        workflow: Workflow,
        key: str,
        trigger: dict[str, Any],
        side: Side,
        object_type: str,
        object_id: str,
        prior: WorkflowRun | None = None,
    ) -> WorkflowRun:
        """Read the record's current values, then test and act (the key is held)."""
        progress = _new_run(workflow, key, trigger, {}, prior)
        try:
            # The trigger saved before the read: a run killed during it can be read again.
            if not await self._checkpoint(progress):
                return progress
        except Exception as exc:  # the store refused: nothing happened yet, it may wait
            progress.error = _brief(exc)
            return await self._settle_failure(workflow, progress, failure_of(exc), _carried(prior))
        try:
            record = await self.reader.read_record(
                side, object_type, object_id, self._fields[workflow.name]
            )
        except Exception as exc:  # the read had no effect: it may wait for a retry
            run = _new_run(workflow, key, trigger, {}, prior)
            run.error = _brief(exc)
            return await self._settle_failure(workflow, run, failure_of(exc), _carried(prior))
        if record is None:
            return await self._skip(workflow, key, trigger, "record no longer exists", prior=prior)
        record = {**record, "Id" if side is Side.SALESFORCE else "hs_object_id": object_id}
        return await self._test_and_act(workflow, key, trigger, record, prior)

    async def _test_and_act(
        self,
        workflow: Workflow,
        key: str,
        trigger: dict[str, Any],
        record: dict[str, Any],
        prior: WorkflowRun | None = None,
    ) -> WorkflowRun:
        where = getattr(workflow.trigger, "where", None)
        if prior is not None and _done(prior):
            # A run resumed after its process died had passed the condition and acted: its
            # remaining actions run whatever the record's values are now.
            return await self._act(workflow, key, trigger, record, prior=prior)
        if not matches(where, record) or not matches(workflow.condition, record):
            return await self._skip(workflow, key, trigger, "condition not met", record, prior)
        return await self._act(workflow, key, trigger, record, prior=prior)

    async def _skip(
        self,
        workflow: Workflow,
        key: str,
        trigger: dict[str, Any],
        why: str,
        record: Mapping[str, Any] | None = None,
        prior: WorkflowRun | None = None,
    ) -> WorkflowRun:
        run = _new_run(workflow, key, trigger, dict(record or {}), prior)
        run.status, run.error, run.finished_at = "skipped", why, _now()
        await self._record(run)
        return run

    async def _act(
        self,
        workflow: Workflow,
        key: str,
        trigger: dict[str, Any],
        record: dict[str, Any],
        *,
        prior: WorkflowRun | None = None,
    ) -> WorkflowRun:
        run = _new_run(workflow, key, trigger, dict(record), prior)
        context = dict(record)
        failure: Failure | None = None
        for done, result in enumerate(run.actions, start=1):  # resumed: done by a dead process
            for detail_key, value in result.detail.items():
                context[f"action{done}.{detail_key}"] = value
        carried = len(run.actions)
        for index, action in enumerate(workflow.actions, start=1):
            if index <= carried:
                continue
            run.actions_started = index
            try:
                # Saved before the action starts: if this process dies during it, recovery
                # knows which action may have run and which are done.
                if not await self._checkpoint(run):
                    return run
            except Exception as exc:
                # Never act without the checkpoint: recovery trusts that no action after the
                # saved one started. Action `index` did not: a retry resumes there (the
                # actions done are carried, not repeated), so the run may wait.
                run.actions_started = index - 1
                run.error = f"before action {index}: progress not saved: {_brief(exc)}"
                carried, failure = len(run.actions), failure_of(exc)
                break
            try:
                result = await self.runner.run(index, action, context)
            except (ActionError, Exception) as exc:  # recorded, never raised to the intake
                run.error, failure = f"action {index}: {_brief(exc)}", failure_of(exc)
                break
            run.actions.append(result)
            for detail_key, value in result.detail.items():
                context[f"action{index}.{detail_key}"] = value
            if not result.ok:
                run.error = f"action {index}: {result.error}"
                side = action_side(action)
                failure = failure_of_category(result.category, side.value if side else None)
                break
        if failure is not None:
            return await self._settle_failure(workflow, run, failure, carried)
        run.finished_at = _now()
        await self._record(run)
        return run

    async def _settle_failure(
        self,
        workflow: Workflow,
        run: WorkflowRun,
        failure: Failure,
        carried: int = 0,
    ) -> WorkflowRun:
        """Record a failed attempt: waiting for a retry (passing reason, no effect yet),
        abandoned (the same, past the maximum age) or failed (after an effect, or for good).
        The first `carried` actions are not run again by a retry (it resumes after them): only
        the effects of the others count."""
        now = _now()
        run.failure_category, run.failure_side = failure.category, failure.side
        run.status = "failed"
        if failure.passing and not any(result.ok for result in run.actions[carried:]):
            since = run.retry_since if run.retry_since is not None else run.started_at
            run.retry_since = since
            max_age = self._max_age_ms(workflow)
            later = self.retry_policy.next_attempt(run.attempts, since, now, max_age)
            if later is None:
                run.status = "abandoned"
                run.error = (
                    f"abandoned after {run.attempts} attempt(s) in {_span(now - since)} (the "
                    f"maximum age is {_span(max_age)}); last error: {run.error}; {MANUAL_RETRY}"
                )
            else:
                run.status, run.next_attempt_at = "waiting", later
        run.finished_at = now
        await self._record(run)
        if run.status == "waiting":
            logger.warning(
                "workflow %s run %s waits for a retry (attempt %d, next in %s): %s",
                workflow.name,
                run.key,
                run.attempts,
                _span((run.next_attempt_at or now) - now),
                run.error,
            )
        else:
            logger.warning(
                "workflow %s run %s %s: %s", workflow.name, run.key, run.status, run.error
            )
        return run


def handled(run: WorkflowRun | None) -> bool:
    """False if the run gave its key back (failed for good before any effect): whoever sees
    the change next may run it. A waiting run is handled: the retrier has it."""
    if run is None or run.status != "failed":
        return True
    return run.effect


def _new_run(
    workflow: Workflow,
    key: str,
    trigger: dict[str, Any],
    record: dict[str, Any],
    prior: WorkflowRun | None,
) -> WorkflowRun:
    """A new attempt of a run; a retry carries its attempt count and first failure on."""
    run = WorkflowRun(workflow.name, key, trigger, _now(), record)
    run.actions_digest = workflow.actions_digest
    if prior is not None:
        run.attempts = prior.attempts + 1
        run.retry_since = prior.retry_since if prior.retry_since is not None else prior.started_at
        # A run resumed after its process died keeps the actions recorded as done.
        run.actions = _done(prior)
        run.actions_started = len(run.actions)
    return run


def _actions_changed(run: WorkflowRun, workflow: Workflow) -> bool:
    """`run` has actions done (or one under way) under another action list than `workflow`'s
    now: resuming it by position would skip or repeat the wrong ones."""
    begun = bool(_done(run)) or bool(run.actions_started)
    known = run.actions_digest is not None
    return begun and known and run.actions_digest != workflow.actions_digest


def _changed_under(run: WorkflowRun, workflow: Workflow, now: int) -> WorkflowRun:
    """`run` made final as interrupted: its workflow's actions changed after some of them ran."""
    done = len(_done(run))
    out = _settled_copy(run, now)
    ran = f"{_actions_named(1, done)} of the old list done" if done else "no action done"
    out.error = (
        f"interrupted: workflow {workflow.name}'s actions were changed while this run was "
        f"unfinished ({ran}, action {run.actions_started or done} possibly under way), so it "
        "cannot be resumed by position: check what the old actions did and finish it by hand "
        f"(`{INTERRUPTED_RETRY}` would resume it at that position of the new list)"
    )
    return out


def _settled_copy(run: WorkflowRun, now: int) -> WorkflowRun:
    """A copy of an unfinished `run` to settle as interrupted (the caller may make it wait
    instead): its trigger, inputs, actions done, attempts and digest kept."""
    return replace(
        run,
        trigger=dict(run.trigger),
        inputs=dict(run.inputs),
        actions=list(run.actions),
        status="interrupted",
        error=None,
        next_attempt_at=None,
        failure_side=None,
        failure_category=INTERRUPTED,
        finished_at=now,
    )


def _carried(prior: WorkflowRun | None) -> int:
    """How many actions a retry of `prior` carries over instead of running them again."""
    return len(_done(prior)) if prior is not None else 0


def _done(run: WorkflowRun) -> list[ActionResult]:
    """The actions of `run` recorded as done, in order, before any that failed (a waiting
    run that failed before any effect has none)."""
    done: list[ActionResult] = []
    for result in run.actions:
        if not result.ok:
            break
        done.append(result)
    return done


def _waiting_again(run: WorkflowRun, now: int, why: str) -> WorkflowRun:
    """`run` waiting for the retrier, due now (`why` kept as its error)."""
    run.status, run.next_attempt_at = "waiting", now
    run.retry_since = run.retry_since if run.retry_since is not None else run.started_at
    run.error = why
    return run


def _actions_named(first: int, last: int) -> str:
    """A span of actions as a run's error names it: "action 2", "actions 2-4"."""
    return f"action {first}" if first == last else f"actions {first}-{last}"


def _what_to_check(action: Action) -> str:
    """What a person looks for to tell whether an action that may have run did (in a run's
    error)."""
    if isinstance(action, SlackPost):
        return f"its Slack message in {action.channel}"
    if isinstance(action, OutboundWebhook):
        return f"its POST in the logs of {action.url}"
    if isinstance(action, SalesforceCreate):
        return f"a Salesforce {action.sobject} created with the run's inputs"
    return f"the effect of its {action.type}"


def _span(ms: int) -> str:
    """A duration in words a person reads at a glance (90 s, 12 min, 5 h, 3 days)."""
    seconds = max(0, ms) // 1000
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def _brief(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


def _now() -> int:
    return int(time.time() * 1000)
