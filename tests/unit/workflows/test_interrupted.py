"""Runs a killed process left `running`: leases, recovery, resumption, `interrupted`.

A process "dies" by raising `Killed` (a BaseException, as a SIGKILL leaves nothing to catch)
from inside an action or a read: the run's row stays `running` with its last checkpoint. Time
is a `Clock` the ledgers read, moved by hand: no sleeps.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import insert

from hubforce.alerts.digest import AlertKind, interrupted_runs
from hubforce.alerts.slack import render_message
from hubforce.connectors.records import WriteResult
from hubforce.server.events import ChangeEvent
from hubforce.store import Store, open_store
from hubforce.store.tables import workflow_runs
from hubforce.sync.model import Side
from hubforce.workflows.actions import ActionRunner, idempotent
from hubforce.workflows.engine import WorkflowEngine
from hubforce.workflows.model import WorkflowsConfig
from hubforce.workflows.retry import RetryPolicy, WorkflowRetrier
from hubforce.workflows.runs import MemoryLedger, RunLedger, WorkflowRun
from hubforce.workflows.store_ledger import StoreLedger
from tests.unit.store.backends import PostgresBackend, SQLiteBackend
from tests.unit.workflows.fakes import FakeHubSpot, FakeReader, FakeSalesforce

LEASE = 60_000
# The ledgers' clock starts at the wall clock: the engine dates runs by it (a run's maximum
# age), only the leases follow the test's clock.
T0 = int(time.time() * 1000)
FAR_FUTURE = 2**62  # the retrier's clock for due runs: every backoff elapsed
SLACK_URL = "https://hooks.slack.test/services/T0/B0/x"
ADA = {"email": "ada@example.com", "lastname": "Lovelace", "company": "Engines"}
CREATE: dict[str, Any] = {
    "type": "salesforce.create",
    "sobject": "Lead",
    "values": {"LastName": "{lastname}", "Company": "{company}", "Email": "{email}"},
}
LEAD = {  # match_on defaults to Email: the create is idempotent
    "name": "lead",
    "trigger": {"type": "hubspot.record_created", "object_type": "contacts"},
    "actions": [CREATE],
}
PLAIN_LEAD = {**LEAD, "name": "plain-lead", "actions": [{**CREATE, "match_on": None}]}
NOTIFY = {  # create (idempotent), Slack (not), HubSpot write-back (idempotent)
    "name": "notify",
    "trigger": {"type": "hubspot.record_created", "object_type": "contacts"},
    "actions": [
        CREATE,
        {"type": "slack", "channel": "#sales", "text": "New lead {email}"},
        {"type": "hubspot.update", "values": {"hs_lead_status": "NEW"}},
    ],
}


class Killed(BaseException):
    """The process died here (nothing catches it, as nothing runs after a SIGKILL)."""


class Clock:
    """A clock the test moves (epoch ms)."""

    def __init__(self, now: int = T0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


class Salesforce(FakeSalesforce):
    """Dies during a create (`kill`: "before" Salesforce got it, or "after" it made the Lead),
    or waits at `gate`."""

    def __init__(self) -> None:
        super().__init__()
        self.kill: str | None = None
        self.gate: asyncio.Event | None = None
        self.at_gate = asyncio.Event()
        self.finds = 0

    async def create(
        self,
        sobject: str,
        records: Sequence[Mapping[str, Any]],
        *,
        auto_assign: bool | str | None = None,
    ) -> list[WriteResult]:
        if self.gate is not None:
            self.at_gate.set()
            await self.gate.wait()
        if self.kill == "before":
            raise Killed
        done = await super().create(sobject, records, auto_assign=auto_assign)
        if self.kill == "after":
            raise Killed
        return done

    async def find_by(self, *args: Any, **kwargs: Any) -> Any:
        self.finds += 1
        return await super().find_by(*args, **kwargs)


class HubSpot(FakeHubSpot):
    def __init__(self) -> None:
        super().__init__()
        self.kill = False

    async def update(
        self, object_type: str, updates: Sequence[tuple[str, Mapping[str, Any]]]
    ) -> list[WriteResult]:
        if self.kill:
            raise Killed
        return await super().update(object_type, updates)


class Reader(FakeReader):
    def __init__(self) -> None:
        super().__init__({"51": dict(ADA), "52": {**ADA, "email": "bob@example.com"}})
        self.kill = False

    async def read_record(
        self, side: Side, object_type: str, record_id: str, fields: Sequence[str]
    ) -> dict[str, Any] | None:
        if self.kill:
            raise Killed
        return await super().read_record(side, object_type, record_id, fields)


class World:
    """One process: an engine over `ledger`, fakes shared with the other processes."""

    def __init__(
        self, ledger: RunLedger, *workflows: dict[str, Any], share: World | None = None
    ) -> None:
        self.ledger = ledger
        self.sf = share.sf if share else Salesforce()
        self.hs = share.hs if share else HubSpot()
        self.reader = share.reader if share else Reader()
        self.slack: list[dict[str, Any]] = share.slack if share else []
        self.kill_slack = False
        self.engine = WorkflowEngine(
            WorkflowsConfig.model_validate({"workflows": list(workflows)}).workflows,
            reader=self.reader,
            runner=ActionRunner(
                salesforce=self.sf,
                hubspot=self.hs,
                http=httpx.AsyncClient(transport=httpx.MockTransport(self._slack)),
                slack_webhook_url=SLACK_URL,
            ),
            ledger=ledger,
            retry=RetryPolicy(first_delay_s=30),
        )
        self.alerts: list[list[str]] = []

        async def alert(keys: list[str]) -> None:
            self.alerts.append(keys)

        self.retrier = WorkflowRetrier(self.engine, now_ms=lambda: FAR_FUTURE, on_interrupted=alert)

    def _slack(self, request: httpx.Request) -> httpx.Response:
        if self.kill_slack:
            raise Killed
        self.slack.append(json.loads(request.content))
        return httpx.Response(200)

    def leads(self) -> list[str]:
        return [values["Email"] for _, values, _ in self.sf.created]

    async def runs(self) -> dict[str, WorkflowRun]:
        return {run.workflow: run for run in await self.ledger.recent()}

    async def crash(self, contact: str = "51") -> None:
        """Handle a creation event in a process that dies during it."""
        event = ChangeEvent(Side.HUBSPOT, "contacts", contact, "creation", 1_000, "e1")
        with pytest.raises(Killed):
            await self.engine.handle(event)
        self.sf.kill, self.hs.kill, self.reader.kill, self.kill_slack = None, False, False, False


LedgerFactory = Callable[[Clock], RunLedger]


@pytest.fixture(params=["memory", "sqlite"])
def make_ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LedgerFactory]:
    """Ledgers of both kinds on one clock (the store ones share one SQLite file)."""
    if request.param == "memory":
        yield lambda clock: MemoryLedger(lease_ms=LEASE, now_ms=clock)
        return
    with open_store(tmp_path / "state.db") as store:
        yield lambda clock: StoreLedger(store, lease_ms=LEASE, now_ms=clock)


# -- which actions are safe to run again -----------------------------------------------------


def test_creates_with_match_on_and_updates_are_idempotent_posts_and_plain_creates_not() -> None:
    actions = WorkflowsConfig.model_validate(
        {
            "workflows": [
                {**NOTIFY, "actions": [*NOTIFY["actions"], *PLAIN_LEAD["actions"]]},
                {
                    "name": "hook",
                    "trigger": LEAD["trigger"],
                    "actions": [
                        {"type": "webhook", "url": "https://hooks.zapier.test/x"},
                        {
                            "type": "salesforce.update",
                            "sobject": "Lead",
                            "values": {"Status": "Open"},
                        },
                    ],
                },
            ]
        }
    ).workflows
    flags = [idempotent(action) for workflow in actions for action in workflow.actions]
    assert flags == [True, False, True, False, False, True]


# -- recovery through the engine and the retrier ----------------------------------------------


def test_a_run_killed_after_its_idempotent_create_resumes_once_its_lease_ended(
    make_ledger: LedgerFactory,
) -> None:
    clock = Clock()
    w = World(make_ledger(clock), LEAD)

    async def go() -> None:
        w.sf.kill = "after"  # Salesforce made the Lead, the process died before recording it
        await w.crash()
        # The lease has not ended: for all this process knows the run is alive elsewhere.
        clock.now += LEASE - 1
        report = await w.retrier.run()
        assert (report.recovered, report.retried) == (0, 0)
        assert (await w.runs())["lead"].status == "running"
        clock.now += 2
        report = await w.retrier.run()
        assert (report.recovered, report.interrupted, report.succeeded) == (1, 0, 1)

    asyncio.run(go())
    assert w.leads() == ["ada@example.com"]  # found by Email and updated, not created again
    run = asyncio.run(w.runs())["lead"]
    assert (run.status, run.attempts, run.error) == ("succeeded", 2, None)
    (action,) = run.actions
    assert action.ok and action.detail["matched"] is True
    assert asyncio.run(w.ledger.retry_counts()) == {
        "waiting": 0,
        "abandoned": 0,
        "interrupted": 0,
    }
    assert w.alerts == []


def test_a_run_killed_during_a_create_without_match_on_is_interrupted_and_runs_on_request(
    make_ledger: LedgerFactory,
) -> None:
    clock = Clock()
    w = World(make_ledger(clock), PLAIN_LEAD)

    async def go() -> None:
        w.sf.kill = "before"  # the request never reached Salesforce (a person will check)
        await w.crash()
        clock.now += LEASE + 1
        report = await w.retrier.run()
        assert (report.recovered, report.interrupted, report.retried) == (0, 1, 0)
        assert (await w.retrier.run()).interrupted == 0  # settled once, never re-run
        assert (await w.ledger.retry_counts())["interrupted"] == 1
        run = (await w.runs())["plain-lead"]
        assert run.status == "interrupted" and run.failure_category == "interrupted"
        assert not run.released  # the key stays held: a redelivery runs nothing
        assert not await w.ledger.claim(run.key)
        # A person checked: no such Lead. The command's request makes it wait, due now.
        assert await w.ledger.request_retry(interrupted=True) == 1  # type: ignore[attr-defined]
        report = await w.retrier.run()
        assert (report.retried, report.succeeded) == (1, 1)

    asyncio.run(go())
    assert w.leads() == ["ada@example.com"]
    run = asyncio.run(w.runs())["plain-lead"]
    assert (run.status, run.attempts) == ("succeeded", 2)
    assert len(w.alerts) == 1 and w.alerts[0] == [run.key]


def test_the_interrupted_runs_error_says_what_to_check_and_the_command() -> None:
    clock = Clock()
    w = World(MemoryLedger(lease_ms=LEASE, now_ms=clock), NOTIFY)

    async def go() -> WorkflowRun:
        w.kill_slack = True
        await w.crash()
        clock.now += LEASE + 1
        await w.retrier.run()
        return (await w.runs())["notify"]

    run = asyncio.run(go())
    assert run.status == "interrupted"
    assert run.error is not None
    assert "during action 2 of 3 (slack, not safe to repeat)" in run.error
    assert "action 1 done, action 2 may or may not have run; action 3 did not start" in run.error
    assert "if there is, do action 3 by hand" in run.error
    assert "Check for its Slack message in #sales" in run.error
    assert "`hubforce retry --workflows --interrupted` runs it again from action 2" in run.error
    assert [a.action for a in run.actions] == ["action1:salesforce.create"]  # history kept


def test_a_run_resumes_at_its_first_action_not_done_without_repeating_the_others(
    make_ledger: LedgerFactory,
) -> None:
    clock = Clock()
    w = World(make_ledger(clock), NOTIFY)

    async def go() -> None:
        w.hs.kill = True  # the write-back, after the Lead and the Slack post
        await w.crash()
        clock.now += LEASE + 1
        report = await w.retrier.run()
        assert (report.recovered, report.succeeded) == (1, 1)

    asyncio.run(go())
    assert w.leads() == ["ada@example.com"] and w.sf.finds == 1  # action 1 not run again
    assert [post["text"] for post in w.slack] == ["New lead ada@example.com"]  # posted once
    assert [(rid, values) for _, rid, values in w.hs.updates] == [("51", {"hs_lead_status": "NEW"})]
    run = asyncio.run(w.runs())["notify"]
    assert (run.status, run.attempts) == ("succeeded", 2)
    assert [(a.action, a.ok) for a in run.actions] == [
        ("action1:salesforce.create", True),
        ("action2:slack", True),
        ("action3:hubspot.update", True),
    ]


def test_an_interrupted_run_run_again_on_request_resumes_at_the_action_checked(
    make_ledger: LedgerFactory,
) -> None:
    clock = Clock()
    w = World(make_ledger(clock), NOTIFY)

    async def go() -> None:
        w.kill_slack = True  # died before Slack got the post (what the person finds)
        await w.crash()
        clock.now += LEASE + 1
        assert (await w.retrier.run()).interrupted == 1
        assert await w.ledger.request_retry(interrupted=True) == 1  # type: ignore[attr-defined]
        assert (await w.retrier.run()).succeeded == 1

    asyncio.run(go())
    assert w.leads() == ["ada@example.com"] and w.sf.finds == 1
    assert len(w.slack) == 1 and len(w.hs.updates) == 1
    assert asyncio.run(w.runs())["notify"].attempts == 2


def test_a_run_killed_before_any_action_runs_again_even_with_unsafe_actions(
    make_ledger: LedgerFactory,
) -> None:
    clock = Clock()
    w = World(make_ledger(clock), PLAIN_LEAD)

    async def go() -> None:
        w.reader.kill = True  # died reading the record: nothing happened anywhere
        await w.crash()
        clock.now += LEASE + 1
        report = await w.retrier.run()
        assert (report.recovered, report.succeeded) == (1, 1)

    asyncio.run(go())
    assert w.leads() == ["ada@example.com"]
    assert asyncio.run(w.runs())["plain-lead"].attempts == 2


def test_one_alert_for_the_runs_one_pass_found_interrupted(make_ledger: LedgerFactory) -> None:
    clock = Clock()
    w = World(make_ledger(clock), PLAIN_LEAD)

    async def go() -> None:
        for contact in ("51", "52"):
            w.sf.kill = "before"
            await w.crash(contact)
        clock.now += LEASE + 1
        assert (await w.retrier.run()).interrupted == 2

    asyncio.run(go())
    (keys,) = w.alerts
    assert len(keys) == 2
    digest = interrupted_runs(keys)
    (alert,) = digest.alerts
    assert (alert.kind, alert.count) == (AlertKind.WORKFLOWS_INTERRUPTED, 2)
    assert "hubforce retry --workflows --interrupted" in alert.command
    assert render_message(digest)["text"] == "hubforce: 1 workflow runs interrupted"


# -- several processes on one store ----------------------------------------------------------


def test_a_live_claim_is_never_taken_and_a_process_that_lost_its_lease_stops(
    tmp_path: Path,
) -> None:
    with open_store(tmp_path / "state.db") as store:
        a_clock, b_clock = Clock(), Clock()
        a = World(StoreLedger(store, lease_ms=LEASE, now_ms=a_clock), NOTIFY)
        b = World(StoreLedger(store, lease_ms=LEASE, now_ms=b_clock), NOTIFY, share=a)

        async def go() -> None:
            gate = a.sf.gate = asyncio.Event()
            event = ChangeEvent(Side.HUBSPOT, "contacts", "51", "creation", 1_000, "e1")
            running = asyncio.create_task(a.engine.handle(event))
            await asyncio.wait_for(a.sf.at_gate.wait(), 5)  # A is creating the Lead
            b_clock.now = a_clock.now + LEASE - 1
            report = await b.retrier.run()  # B starts: A's lease still holds
            assert (report.recovered, report.interrupted, report.retried) == (0, 0, 0)
            assert (await b.runs())["notify"].status == "running"
            # A is stuck past its lease: B takes the run over (the create is idempotent).
            b_clock.now = a_clock.now + LEASE + 1
            b.sf.gate = None
            assert (await b.engine.recover()).waiting == 1
            gate.set()
            (stopped,) = await running
            assert stopped.status == "running"  # A's checkpoint was refused: it stopped
            assert a.slack == []  # ... before its Slack post
            report = await b.retrier.run()
            assert (report.retried, report.succeeded) == (1, 1)

        asyncio.run(go())
        assert a.leads() == ["ada@example.com"]  # A's create, found again by B's
        assert len(a.slack) == 1 and len(a.hs.updates) == 1
        run = asyncio.run(b.runs())["notify"]
        assert (run.status, run.attempts) == ("succeeded", 2)


def test_a_claim_from_before_leases_is_interrupted_as_unknown(tmp_path: Path) -> None:
    with open_store(tmp_path / "state.db") as store:
        with store.engine.begin() as conn:  # as a process before migration 0004 left it
            conn.execute(
                insert(workflow_runs).values(
                    key="lead:hubspot:contacts:51:creation::1000",
                    workflow="lead",
                    status="running",
                    started_at=T0,
                    detail={},
                )
            )
        clock = Clock(T0 + LEASE - 1)
        w = World(StoreLedger(store, lease_ms=LEASE, now_ms=clock), LEAD)
        assert asyncio.run(w.engine.recover()).found == 0  # a lease after started_at
        clock.now = T0 + LEASE + 1
        assert asyncio.run(w.engine.recover()).interrupted == 1
        run = asyncio.run(w.runs())["lead"]
    assert run.status == "interrupted" and run.error is not None
    assert "claimed before hubforce recorded a run's progress" in run.error
    assert w.leads() == []


def test_a_bare_claim_with_nothing_to_read_again_is_given_back(
    make_ledger: LedgerFactory,
) -> None:
    clock = Clock()
    w = World(make_ledger(clock), LEAD)

    async def go() -> tuple[WorkflowRun, bool]:
        assert await w.ledger.claim("lead:submission:abc")  # died before its first checkpoint
        clock.now += LEASE + 1
        assert (await w.engine.recover()).released == 1
        run = (await w.runs())["lead"]
        return run, await w.ledger.claim("lead:submission:abc")  # the catch-up, later

    run, claimed = asyncio.run(go())
    assert (run.status, run.released) == ("failed", True)
    assert claimed


# -- the ledger's lease rules, on every backend ------------------------------------------------


def _trigger() -> dict[str, Any]:
    return {"type": "t", "side": "hubspot", "object_type": "contacts", "object_id": "51"}


class LeaseContract:
    """The same lease rules for `MemoryLedger` and `StoreLedger` (`ledger(clock)`)."""

    def ledger(self, clock: Clock) -> RunLedger:
        raise NotImplementedError

    def test_a_claim_holds_until_its_lease_ends_and_a_checkpoint_renews_it(self) -> None:
        clock = Clock()
        ledger = self.ledger(clock)

        async def go() -> None:
            assert await ledger.claim("wf:a")
            assert await ledger.expired(T0 + LEASE - 1) == []
            assert [r.key for r in await ledger.expired(T0 + LEASE + 1)] == ["wf:a"]
            clock.now = T0 + LEASE - 10  # the process is alive: it saves its progress
            run = WorkflowRun("wf", "wf:a", _trigger(), T0, actions_started=1)
            assert await ledger.checkpoint(run)
            assert await ledger.expired(T0 + LEASE + 1) == []
            assert not await ledger.settle_expired(run, T0 + LEASE + 1)  # never taken live
            (stale,) = await ledger.expired(T0 + 2 * LEASE)
            assert (stale.status, stale.trigger, stale.actions_started) == (
                "running",
                _trigger(),
                1,
            )

        asyncio.run(go())

    def test_an_expired_claim_is_settled_once_and_its_process_may_not_go_on(self) -> None:
        clock = Clock()
        ledger = self.ledger(clock)

        async def go() -> None:
            assert await ledger.claim("wf:a")
            later = T0 + LEASE + 1
            interrupted = WorkflowRun("wf", "wf:a", _trigger(), T0, status="interrupted")
            assert await ledger.settle_expired(interrupted, later)
            assert not await ledger.settle_expired(interrupted, later)  # a second recoverer
            assert await ledger.expired(later) == []
            assert not await ledger.checkpoint(WorkflowRun("wf", "wf:a", _trigger(), T0))
            assert not await ledger.claim("wf:a")  # held
            counts = await ledger.retry_counts()
            assert counts == {"waiting": 0, "abandoned": 0, "interrupted": 1}
            assert await ledger.request_retry(interrupted=True, now=later) == 1  # type: ignore[attr-defined]
            (due,) = await ledger.due(later)
            assert (due.key, due.next_attempt_at, due.retry_since) == ("wf:a", later, later)

        asyncio.run(go())

    def test_a_finished_run_has_no_lease(self) -> None:
        ledger = self.ledger(Clock())

        async def go() -> None:
            assert await ledger.claim("wf:a")
            await ledger.record(WorkflowRun("wf", "wf:a", _trigger(), T0, finished_at=T0 + 5))
            assert await ledger.expired(FAR_FUTURE) == []

        asyncio.run(go())


class TestLeasesMemory(LeaseContract):
    def ledger(self, clock: Clock) -> RunLedger:
        return MemoryLedger(lease_ms=LEASE, now_ms=clock)


class StoreLeaseContract(LeaseContract):
    @pytest.fixture(autouse=True)
    def _on(self, store: Store) -> None:
        self.store = store

    def ledger(self, clock: Clock) -> RunLedger:
        return StoreLedger(self.store, lease_ms=LEASE, now_ms=clock)

    def test_two_processes_see_one_anothers_leases(self) -> None:
        a_clock, b_clock = Clock(), Clock(T0 + LEASE + 1)
        a, b = self.ledger(a_clock), self.ledger(b_clock)

        async def go() -> None:
            assert await a.claim("wf:a")
            assert not await b.claim("wf:a")  # never taken by a claim, lease or not
            a_clock.now = T0 + LEASE  # A saves its progress just in time
            assert await a.checkpoint(WorkflowRun("wf", "wf:a", _trigger(), T0))
            assert await b.expired() == []  # B's clock: A's renewed lease holds
            b_clock.now = T0 + 2 * LEASE + 1
            (stale,) = await b.expired()
            assert await b.settle_expired(WorkflowRun("wf", "wf:a", {}, T0, status="waiting"))
            assert not await a.checkpoint(WorkflowRun("wf", "wf:a", _trigger(), T0))
            assert stale.key == "wf:a"

        asyncio.run(go())


class TestLeasesSQLite(StoreLeaseContract, SQLiteBackend):
    pass


class TestLeasesPostgres(StoreLeaseContract, PostgresBackend):
    pass


NOTIFY_EDITED = {  # the same workflow after someone inserted an action before the Slack post
    **NOTIFY,
    "actions": [
        NOTIFY["actions"][0],
        {"type": "hubspot.update", "values": {"lifecyclestage": "lead"}},
        *NOTIFY["actions"][1:],
    ],
}


def _restart_after_a_crash_in_action_3(
    make_ledger: LedgerFactory, restarted_with: dict[str, Any]
) -> tuple[World, Any]:
    """NOTIFY dies during action 3 (after the Lead and the Slack post); a new process with
    `restarted_with` as its workflow runs a retry pass once the lease ended."""
    clock = Clock()
    ledger = make_ledger(clock)
    first = World(ledger, NOTIFY)

    async def go() -> Any:
        first.hs.kill = True
        await first.crash()
        clock.now += LEASE + 1
        return await World(ledger, restarted_with, share=first).retrier.run()

    return first, asyncio.run(go())


def test_a_killed_run_whose_workflow_was_edited_meanwhile_is_not_resumed_by_position(
    make_ledger: LedgerFactory,
) -> None:
    first, report = _restart_after_a_crash_in_action_3(make_ledger, NOTIFY_EDITED)

    assert (report.recovered, report.interrupted, report.succeeded) == (0, 1, 0)
    assert first.leads() == ["ada@example.com"]
    assert len(first.slack) == 1  # not posted again
    assert first.hs.updates == []  # neither the old action 3 nor the new action 2 ran
    run = asyncio.run(first.runs())["notify"]
    assert run.status == "interrupted" and run.error is not None
    assert "actions were changed" in run.error and "by hand" in run.error


def test_a_restarted_process_with_the_same_actions_still_resumes_a_killed_run(
    make_ledger: LedgerFactory,
) -> None:
    first, report = _restart_after_a_crash_in_action_3(make_ledger, NOTIFY)

    assert (report.recovered, report.succeeded) == (1, 1)
    run = asyncio.run(first.runs())["notify"]
    assert (run.status, run.attempts) == ("succeeded", 2)
    assert len(first.slack) == 1 and len(first.hs.updates) == 1
