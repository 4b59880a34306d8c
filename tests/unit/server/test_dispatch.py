"""The dispatcher queues a record's targeted sync only after that record's workflows ran."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import cast

from hubforce.server.batching import ChangeBatcher
from hubforce.server.dispatch import Dispatcher
from hubforce.server.events import ChangeEvent
from hubforce.sync.model import Side
from hubforce.workflows.engine import WorkflowEngine
from hubforce.workflows.runs import WorkflowRun


class SlowWorkflows:
    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.release = asyncio.Event()

    async def handle(self, event: ChangeEvent, *, current: bool = True) -> list[WorkflowRun]:
        if event.kind == "propertyChange":
            await self.release.wait()  # e.g. creating the Lead in Salesforce
        self.log.append(f"workflows {event.object_id} {event.kind}")
        return []


class Target:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def sync_records(self, pair: str, side: Side, ids: Sequence[str]) -> None:
        self.log.append(f"sync {','.join(ids)}")


def _event(object_id: str, kind: str, event_id: str) -> ChangeEvent:
    return ChangeEvent(Side.HUBSPOT, "contacts", object_id, kind, 1, event_id)


def test_sync_waits_for_the_last_workflow_event_of_the_record() -> None:
    log: list[str] = []

    async def go() -> None:
        workflows = SlowWorkflows(log)
        dispatcher = Dispatcher(
            batcher=ChangeBatcher(Target(log), window_s=0.001),
            workflows=cast(WorkflowEngine, workflows),
            pairs={(Side.HUBSPOT, "contacts"): "contacts"},
        )
        dispatcher.start()
        dispatcher.submit(
            [
                _event("1", "creation", "a"),
                _event("1", "propertyChange", "b"),
                _event("2", "creation", "c"),
            ]
        )
        deadline = asyncio.get_running_loop().time() + 5
        while "workflows 1 creation" not in log:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.05)  # a batching window passes: record 1 must still wait
        assert not any(entry.startswith("sync") for entry in log)
        workflows.release.set()
        await dispatcher.stop()

    asyncio.run(go())
    assert log == [
        "workflows 1 creation",
        "workflows 1 propertyChange",
        "workflows 2 creation",
        "sync 1,2",
    ]
