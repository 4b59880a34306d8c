"""Running workflows for change events: match trigger, read the record, test, act, record.

Idempotency: before any action runs the run's key (workflow + the change's identity) is
claimed in the ledger; a redelivered or duplicated change finds it claimed and does nothing.
A run that fails before its first action had an effect gives its key back so that HubSpot's
retry (or the reconcile) can run it again; a run that failed after an effect keeps its key
(no double Lead) and is recorded as failed for someone to look at.

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
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from hubforce.server.events import ChangeEvent
from hubforce.sync.model import Side
from hubforce.workflows.actions import ActionError, ActionRunner
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
from hubforce.workflows.model import FormSubmitted, Schedule, Workflow
from hubforce.workflows.runs import RunLedger, WorkflowRun
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
    ) -> None:
        self.workflows = [w for w in workflows if w.enabled]
        self.reader = reader
        self.runner = runner
        self.ledger = ledger
        self.forms = forms
        self.previous = PreviousValues()
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
            run = await self._run(workflow, event)
            if run is not None:
                runs.append(run)
        return runs

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
        await self.ledger.record(run)
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
        return {
            "type": workflow.trigger.type,
            "side": event.side.value,
            "object_type": event.object_type,
            "object_id": event.object_id,
            "kind": event.kind,
            "event_id": event.event_id,
            "occurred_at": event.occurred_at,
        }

    async def _run(self, workflow: Workflow, event: ChangeEvent) -> WorkflowRun | None:
        if isinstance(workflow.trigger, FormSubmitted):
            return await self._run_form_event(workflow, workflow.trigger, event)
        key = idempotency_key(workflow.name, event)
        if not await self.ledger.claim(key):
            return None
        trigger = self._trigger_of(workflow, event)
        try:
            record = await self.reader.read_record(
                event.side, event.object_type, event.object_id, self._fields[workflow.name]
            )
        except Exception as exc:  # the read had no effect: let a retry run it again
            await self.ledger.release(key)
            run = WorkflowRun(workflow.name, key, trigger, _now())
            run.status, run.error, run.finished_at = "failed", _brief(exc), _now()
            await self.ledger.record(run)
            return run
        if record is None:
            return await self._skip(workflow, key, trigger, "record no longer exists")
        record = {
            **record,
            "Id" if event.side is Side.SALESFORCE else "hs_object_id": event.object_id,
        }
        return await self._test_and_act(workflow, key, trigger, record)

    async def _test_and_act(
        self, workflow: Workflow, key: str, trigger: dict[str, Any], record: dict[str, Any]
    ) -> WorkflowRun:
        where = getattr(workflow.trigger, "where", None)
        if not matches(where, record) or not matches(workflow.condition, record):
            return await self._skip(workflow, key, trigger, "condition not met", record)
        return await self._act(workflow, key, trigger, record)

    async def _skip(
        self,
        workflow: Workflow,
        key: str,
        trigger: dict[str, Any],
        why: str,
        record: Mapping[str, Any] | None = None,
    ) -> WorkflowRun:
        run = WorkflowRun(workflow.name, key, trigger, _now(), dict(record or {}))
        run.status, run.error, run.finished_at = "skipped", why, _now()
        await self.ledger.record(run)
        return run

    async def _act(
        self, workflow: Workflow, key: str, trigger: dict[str, Any], record: dict[str, Any]
    ) -> WorkflowRun:
        run = WorkflowRun(workflow.name, key, trigger, _now(), dict(record))
        context = dict(record)
        for index, action in enumerate(workflow.actions, start=1):
            try:
                result = await self.runner.run(index, action, context)
            except (ActionError, Exception) as exc:  # recorded, never raised to the intake
                run.status, run.error = "failed", f"action {index}: {_brief(exc)}"
                break
            run.actions.append(result)
            for detail_key, value in result.detail.items():
                context[f"action{index}.{detail_key}"] = value
            if not result.ok:
                run.status, run.error = "failed", f"action {index}: {result.error}"
                break
        if run.status == "failed" and not any(r.ok for r in run.actions):
            await self.ledger.release(key)  # nothing happened yet: a redelivery may retry
        run.finished_at = _now()
        await self.ledger.record(run)
        if run.status == "failed":
            logger.warning("workflow %s run %s failed: %s", workflow.name, key, run.error)
        return run


def handled(run: WorkflowRun | None) -> bool:
    """False if the run gave its key back (failed before any effect): it must run again."""
    if run is None or run.status != "failed":
        return True
    return any(result.ok for result in run.actions)


def _brief(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


def _now() -> int:
    return int(time.time() * 1000)
