"""Running workflows for change events: match trigger, read the record, test, act, record.

Idempotency: before any action runs the run's key (workflow + the change's identity) is
claimed in the ledger; a redelivered or duplicated change finds it claimed and does nothing.
A run that fails before its first action had an effect gives its key back so that HubSpot's
retry (or the reconcile) can run it again; a run that failed after an effect keeps its key
(no double Lead) and is recorded as failed for someone to look at.
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
from hubforce.workflows.model import FormSubmitted, Schedule, Workflow
from hubforce.workflows.runs import RunLedger, WorkflowRun
from hubforce.workflows.templates import template_fields
from hubforce.workflows.triggers import (
    FORM_NAME_PROPERTY,
    PreviousValues,
    fires,
    form_matches,
    idempotency_key,
)

logger = logging.getLogger(__name__)

_ACTION_REF = re.compile(r"^action\d+\.")
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
    ) -> None:
        self.workflows = [w for w in workflows if w.enabled]
        self.reader = reader
        self.runner = runner
        self.ledger = ledger
        self.previous = PreviousValues()
        self._fields = {w.name: fields_needed(w) for w in self.workflows}

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

    async def _run(self, workflow: Workflow, event: ChangeEvent) -> WorkflowRun | None:
        key = idempotency_key(workflow.name, event)
        if not await self.ledger.claim(key):
            return None
        trigger = {
            "type": workflow.trigger.type,
            "side": event.side.value,
            "object_type": event.object_type,
            "object_id": event.object_id,
            "kind": event.kind,
            "event_id": event.event_id,
            "occurred_at": event.occurred_at,
        }
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
        if isinstance(workflow.trigger, FormSubmitted) and not form_matches(
            workflow.trigger, record
        ):
            return await self._skip(workflow, key, trigger, "another form")
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


def _brief(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


def _now() -> int:
    return int(time.time() * 1000)
