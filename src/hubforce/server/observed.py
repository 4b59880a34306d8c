"""`hubforce run`'s calls to either side, routed through the process's one `Reconnector`.

Reconciles and the Salesforce poll already run through it; these wrappers do the same for
the other paths that reach an API: targeted syncs (webhook micro-batches, `/hooks/sync`,
Outbound Messages) and workflows (record reads, form submissions, actions). So a refused
authentication or a spent budget met on any path marks that side stopped at once (alerted
once, shown by `/readyz`), a known-refused side is not called again until its credentials are
renewed (at most once per poll interval, without an API call), and a success on any path
announces the recovery.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from hubforce.engine.reconnect import BOTH, Reconnector
from hubforce.server.batching import Guard
from hubforce.sync.model import Side
from hubforce.workflows.actions import ActionRunner
from hubforce.workflows.engine import RecordReader
from hubforce.workflows.forms import SubmissionPage, SubmissionSource
from hubforce.workflows.model import Action, action_side
from hubforce.workflows.runs import ActionResult


def targeted_attempt(keeper: Reconnector) -> Guard:
    """The `ChangeBatcher` guard that runs each targeted sync as an attempt of `keeper`: it
    uses both sides, is turned down before any call while a side is refused, and its own
    refusal or failure is recorded and alerted."""

    async def attempt(job: Callable[[], Awaitable[None]]) -> None:
        await keeper.attempt(job, sides=BOTH, name="targeted sync", digest=False)

    return attempt


class GuardedReader:
    """A workflow `RecordReader` whose reads are attempts on the side they read."""

    def __init__(self, reader: RecordReader, keeper: Reconnector) -> None:
        self.reader = reader
        self.keeper = keeper

    async def read_record(
        self, side: Side, object_type: str, record_id: str, fields: Sequence[str]
    ) -> dict[str, Any] | None:
        """The record's values (see `RecordReader`)."""
        return await self.keeper.attempt(
            lambda: self.reader.read_record(side, object_type, record_id, fields),
            sides=(side,),
            name="workflow",
            digest=False,
            track_failures=False,
        )


class GuardedForms:
    """A `SubmissionSource` whose calls are HubSpot attempts."""

    def __init__(self, source: SubmissionSource, keeper: Reconnector) -> None:
        self.source = source
        self.keeper = keeper

    async def submissions(self, form_guid: str, after: str | None = None) -> SubmissionPage:
        """One page of the form's submissions (see `SubmissionSource`)."""
        return await self.keeper.attempt(
            lambda: self.source.submissions(form_guid, after),
            sides=(Side.HUBSPOT,),
            name="workflow",
            digest=False,
            track_failures=False,
        )

    async def contact_id(self, email: str) -> str | None:
        """The contact with this e-mail (see `SubmissionSource`)."""
        return await self.keeper.attempt(
            lambda: self.source.contact_id(email),
            sides=(Side.HUBSPOT,),
            name="workflow",
            digest=False,
            track_failures=False,
        )


class GuardedActions(ActionRunner):
    """An `ActionRunner` whose Salesforce and HubSpot actions are attempts on their side."""

    def __init__(self, keeper: Reconnector, **clients: Any) -> None:
        super().__init__(**clients)
        self.keeper = keeper

    async def run(self, index: int, action: Action, record: Mapping[str, Any]) -> ActionResult:
        """Run one action (see `ActionRunner.run`)."""
        side = action_side(action)
        if side is None:
            return await super().run(index, action, record)
        return await self.keeper.attempt(
            lambda: super(GuardedActions, self).run(index, action, record),
            sides=(side,),
            name="workflow",
            digest=False,
            track_failures=False,
        )


__all__ = ["GuardedActions", "GuardedForms", "GuardedReader", "action_side", "targeted_attempt"]
