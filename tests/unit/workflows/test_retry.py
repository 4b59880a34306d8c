"""Workflow runs refused for a passing reason wait and are run again: which failures, backoff,
maximum age, the key claimed once under a race, the store briefly unreachable."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from hubforce.connectors.records import WriteResult
from hubforce.errors import (
    AuthFailed,
    Category,
    ConnectorError,
    RateLimited,
    Transient,
)
from hubforce.server.events import ChangeEvent
from hubforce.sync.model import Side
from hubforce.workflows.actions import ActionRunner
from hubforce.workflows.engine import WorkflowEngine, handled
from hubforce.workflows.model import WorkflowsConfig
from hubforce.workflows.retry import (
    Failure,
    RetryPolicy,
    WorkflowRetrier,
    failure_of,
    failure_of_category,
)
from hubforce.workflows.runs import MemoryLedger, RunLedger, WorkflowRun
from tests.unit.workflows.fakes import FakeHubSpot, FakeReader, FakeSalesforce

NEW_CONTACT_LEAD: dict[str, Any] = {
    "name": "new-contact-lead",
    "trigger": {"type": "hubspot.record_created", "object_type": "contacts"},
    "condition": 'lifecyclestage != "customer"',
    "actions": [
        {
            "type": "salesforce.create",
            "sobject": "Lead",
            "values": {"LastName": "{lastname}", "Company": "{company}", "Email": "{email}"},
        }
    ],
}
ADA = {
    "email": "ada@example.com",
    "lastname": "Lovelace",
    "company": "Engines",
    "lifecyclestage": "lead",
}
FAR_FUTURE = 2**62  # a retrier clock past every backoff: every waiting run is due


class Salesforce(FakeSalesforce):
    """A Salesforce that raises `error` while set, and may hold creates at a gate."""

    def __init__(self) -> None:
        super().__init__()
        self.error: Exception | None = None
        self.gate: asyncio.Event | None = None
        self.at_gate = 0

    async def create(
        self,
        sobject: str,
        records: Sequence[Mapping[str, Any]],
        *,
        auto_assign: bool | str | None = None,
    ) -> list[WriteResult]:
        if self.error is not None:
            raise self.error
        if self.gate is not None:
            self.at_gate += 1
            await self.gate.wait()
        return await super().create(sobject, records, auto_assign=auto_assign)


def created(contact: str = "51", at: int = 1_000, event_id: str = "e1") -> ChangeEvent:
    return ChangeEvent(Side.HUBSPOT, "contacts", contact, "creation", at, event_id)


def refused() -> AuthFailed:
    return AuthFailed("salesforce", status=400, api_code="invalid_grant")


class World:
    def __init__(
        self,
        *workflows: dict[str, Any],
        ledger: RunLedger | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.sf, self.hs = Salesforce(), FakeHubSpot()
        self.reader = FakeReader({"51": dict(ADA)})
        self.ledger: RunLedger = ledger or MemoryLedger()
        self.engine = WorkflowEngine(
            WorkflowsConfig.model_validate(
                {"workflows": list(workflows or [NEW_CONTACT_LEAD])}
            ).workflows,
            reader=self.reader,
            runner=ActionRunner(salesforce=self.sf, hubspot=self.hs),
            ledger=self.ledger,
            retry=policy or RetryPolicy(first_delay_s=30, max_delay_s=3600),
        )
        self.synced: list[tuple[str, str, str]] = []
        self.retrier = WorkflowRetrier(
            self.engine,
            now_ms=lambda: FAR_FUTURE,
            on_record=lambda *record: self.synced.append(record),
        )

    def leads(self) -> list[str]:
        return [values["Email"] for _, values, _ in self.sf.created]

    async def only_run(self) -> WorkflowRun:
        (run,) = await self.ledger.recent()
        return run


# -- which failures --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (refused(), Failure("authentication", True, "salesforce")),
        (RateLimited("hubspot", 10, "ten_seconds"), Failure("rate_limit", True, "hubspot")),
        (
            Transient("salesforce", "HTTP 503 after 5 tries"),
            Failure("transient", True, "salesforce"),
        ),
        (OperationalError("SELECT 1", {}, Exception("server closed")), Failure("store", True)),
        (
            ConnectorError("salesforce", Category.PERMISSION, "no access"),
            Failure("permission", False, "salesforce"),
        ),
        (RuntimeError("a bug"), Failure("unknown", False)),
    ],
)
def test_passing_failures_are_told_from_permanent_ones(
    error: BaseException, expected: Failure
) -> None:
    assert failure_of(error) == expected


@pytest.mark.parametrize(
    ("category", "passing"),
    [
        ("transient", True),  # UNABLE_TO_LOCK_ROW
        ("rate_limit", True),
        ("validation_rule", False),
        ("picklist", False),
        ("required_field", False),
        ("permission", False),
        (None, False),
    ],
)
def test_a_refused_action_passes_only_for_passing_categories(
    category: str | None, passing: bool
) -> None:
    assert failure_of_category(category, "salesforce").passing is passing


# -- backoff and maximum age -----------------------------------------------------------------


def test_backoff_doubles_per_attempt_up_to_its_cap() -> None:
    policy = RetryPolicy(first_delay_s=30, max_delay_s=600, max_age_s=3 * 86400)
    assert [policy.delay_ms(n) // 1000 for n in range(1, 8)] == [30, 60, 120, 240, 480, 600, 600]
    assert policy.delay_ms(10_000) == 600_000  # no overflow however many attempts


def test_the_last_attempt_falls_on_the_maximum_age_and_none_after() -> None:
    policy = RetryPolicy(first_delay_s=30, max_delay_s=3600, max_age_s=3600)
    since = 1_000_000
    assert policy.next_attempt(1, since, since + 1000, 3_600_000) == since + 31_000
    # Near the end the delay is cut to the deadline, not past it.
    assert policy.next_attempt(6, since, since + 3_500_000, 3_600_000) == since + 3_600_000
    assert policy.next_attempt(7, since, since + 3_600_000, 3_600_000) is None


# -- the engine and the retrier --------------------------------------------------------------


def test_a_refused_run_waits_holding_its_key_and_runs_once_the_side_works() -> None:
    w = World()

    async def go() -> None:
        w.sf.error = refused()
        before = int(time.time() * 1000)
        (run,) = await w.engine.handle(created())
        assert (run.status, run.attempts, run.failure_category, run.failure_side) == (
            "waiting",
            1,
            "authentication",
            "salesforce",
        )
        assert run.next_attempt_at is not None
        assert before + 30_000 <= run.next_attempt_at <= int(time.time() * 1000) + 30_000
        assert handled(run)  # the retrier has it: a form catch-up cursor may move on
        # A redelivery (another eventId, the same change) finds the key held: nothing runs.
        assert await w.engine.handle(created(event_id="e2")) == []
        # Not due yet on the real clock: the scheduled pass leaves it.
        now_retrier = WorkflowRetrier(w.engine)
        assert (await now_retrier.run()).retried == 0
        # Still refused: the due pass tries, it waits longer (backoff doubled).
        report = await w.retrier.run()
        assert (report.retried, report.waiting) == (1, 1)
        again = await w.only_run()
        assert (again.status, again.attempts) == ("waiting", 2)
        assert again.retry_since == run.started_at  # the maximum age counts from the first
        assert again.next_attempt_at is not None and again.finished_at is not None
        assert again.next_attempt_at - again.finished_at == 60_000
        w.sf.error = None
        w.reader.records["51"]["company"] = "Analytical Engines"  # changed meanwhile
        report = await w.retrier.run()
        assert (report.retried, report.succeeded) == (1, 1)

    asyncio.run(go())
    assert w.leads() == ["ada@example.com"]
    assert w.sf.created[0][1]["Company"] == "Analytical Engines"  # read again: current values
    run = asyncio.run(w.only_run())
    assert (run.status, run.attempts, run.next_attempt_at) == ("succeeded", 3, None)
    assert w.synced == [("hubspot", "contacts", "51")]  # its targeted sync, as after a webhook
    assert asyncio.run(w.engine.handle(created(event_id="e3"))) == []  # done: held for good


def test_a_retry_checks_the_condition_on_the_current_values() -> None:
    w = World()

    async def go() -> WorkflowRun:
        w.sf.error = refused()
        await w.engine.handle(created())
        w.sf.error = None
        w.reader.records["51"]["lifecyclestage"] = "customer"  # no longer a Lead to create
        await w.retrier.run()
        return await w.only_run()

    run = asyncio.run(go())
    assert (run.status, run.error, run.attempts) == ("skipped", "condition not met", 2)
    assert w.leads() == []


def test_a_from_to_property_trigger_is_not_checked_again_on_retry() -> None:
    became_customer = {
        "name": "customer-lead",
        "trigger": {
            "type": "hubspot.property_changed",
            "property": "lifecyclestage",
            "from": "lead",
            "to": "customer",
        },
        "actions": NEW_CONTACT_LEAD["actions"],
    }
    w = World(became_customer)

    def change(value: str, at: int) -> ChangeEvent:
        return ChangeEvent(
            Side.HUBSPOT, "contacts", "51", "propertyChange", at, f"p{at}", "lifecyclestage", value
        )

    async def go() -> WorkflowRun:
        assert await w.engine.handle(change("lead", 1)) == []  # seen: "from" is known now
        w.sf.error = refused()
        (run,) = await w.engine.handle(change("customer", 2))
        assert run.status == "waiting"
        assert (run.trigger["property"], run.trigger["value"], run.trigger["occurred_at"]) == (
            "lifecyclestage",
            "customer",
            2,
        )
        w.sf.error = None
        # The record moved on: the trigger passed when the event came; it is not asked again.
        w.reader.records["51"]["lifecyclestage"] = "evangelist"
        await w.retrier.run()
        return await w.only_run()

    assert asyncio.run(go()).status == "succeeded"
    assert w.leads() == ["ada@example.com"]


def test_permanent_refusals_and_partial_runs_are_not_retried_automatically() -> None:
    two_steps = {
        **NEW_CONTACT_LEAD,
        "actions": [
            *NEW_CONTACT_LEAD["actions"],
            {"type": "hubspot.update", "values": {"sf_lead_id": "{action1.id}"}},
        ],
    }
    w = World(two_steps)

    class DownHubSpot(FakeHubSpot):
        async def update(
            self, object_type: str, updates: Sequence[tuple[str, Mapping[str, Any]]]
        ) -> list[WriteResult]:
            raise Transient("hubspot", "HTTP 502 after 5 tries")

    async def go() -> None:
        # A required field refused: the same values would be refused again.
        w.sf.refuse = True
        (permanent,) = await w.engine.handle(created())
        assert (permanent.status, permanent.failure_category) == ("failed", "required_field")
        assert permanent.released and not handled(permanent)
        assert (await w.retrier.run()).due == 0
        # Given back: a redelivery may run it (fixed meanwhile), and then HubSpot is down
        # after the Lead was created: partial, never run again automatically.
        w.sf.refuse = False
        w.engine.runner.hubspot = DownHubSpot()
        (partial,) = await w.engine.handle(created(event_id="e2"))
        assert (partial.status, partial.failure_category, partial.effect) == (
            "failed",
            "transient",
            True,
        )
        assert not partial.released and handled(partial)
        assert (await w.retrier.run()).due == 0
        assert await w.engine.handle(created(event_id="e3")) == []  # no second Lead

    asyncio.run(go())
    assert w.leads() == ["ada@example.com"]


def test_a_run_past_its_maximum_age_is_abandoned_with_the_reason() -> None:
    w = World(policy=RetryPolicy(first_delay_s=30, max_delay_s=600, max_age_s=3600))
    now = int(time.time() * 1000)

    async def waiting(key: str, since: int) -> WorkflowRun:
        assert await w.ledger.claim(key)
        run = WorkflowRun(
            "new-contact-lead",
            key,
            {
                "type": "hubspot.record_created",
                "side": "hubspot",
                "object_type": "contacts",
                "object_id": "51",
            },
            since,
            status="waiting",
            error="action 1: AuthFailed: Authentication failed: reauthorize Salesforce",
            next_attempt_at=since + 1,
            retry_since=since,
            attempts=4,
            failure_category="authentication",
            failure_side="salesforce",
        )
        await w.ledger.record(run)
        return run

    async def go() -> list[WorkflowRun]:
        w.sf.error = refused()
        # Its last attempt, at the maximum age, fails too: abandoned.
        await waiting("last-try", now - 3_600_000 - 1000)
        # Found long past it (the service was stopped): abandoned without another attempt.
        await waiting("stale", now - 3_600_000 - 600_000 - 60_000)
        report = await w.retrier.run()
        assert (report.retried, report.abandoned) == (2, 2)
        assert (await w.retrier.run()).due == 0
        return sorted(await w.ledger.recent(), key=lambda r: r.key)

    last_try, stale = asyncio.run(go())
    assert (last_try.status, last_try.attempts) == ("abandoned", 5)
    assert last_try.error is not None
    assert last_try.error.startswith(
        "abandoned after 5 attempt(s) in 60 min (the maximum age is 60 min)"
    )
    assert "reauthorize Salesforce" in last_try.error
    assert "`hubforce retry --workflows`" in last_try.error
    assert (stale.status, stale.attempts) == ("abandoned", 4)  # no attempt made
    assert stale.error is not None and "found past its maximum age (60 min" in stale.error
    assert last_try.released and stale.released
    assert w.leads() == []


def test_a_scheduled_run_is_retried_only_until_its_next_slot() -> None:
    hourly = {
        "name": "hourly",
        "trigger": {"type": "schedule", "every_seconds": 60},
        "actions": [{"type": "salesforce.create", "sobject": "Lead", "values": {"LastName": "x"}}],
    }
    w = World(hourly, policy=RetryPolicy(first_delay_s=50, max_delay_s=600))

    async def go() -> tuple[WorkflowRun | None, WorkflowRun]:
        w.sf.error = Transient("salesforce", "HTTP 503")
        first = await w.engine.run_scheduled(w.engine.workflows[0], 1)
        await w.retrier.run()  # fails again 50 s in: the slot (60 s) ends before 100 s
        return first, await w.only_run()

    first, second = asyncio.run(go())
    assert first is not None and first.next_attempt_at is not None
    assert first.next_attempt_at - first.started_at <= 50_000 + 50
    assert second.status == "waiting" and second.next_attempt_at is not None
    assert second.retry_since is not None
    assert second.next_attempt_at == second.retry_since + 60_000  # cut to the slot's end


def test_runs_waiting_for_a_refused_side_spend_no_attempt_and_go_on_recovery() -> None:
    w = World()
    still_refused = {"salesforce"}
    w.retrier.blocked = lambda side: side in still_refused

    async def go() -> WorkflowRun:
        w.sf.error = refused()
        await w.engine.handle(created())
        report = await w.retrier.run()
        assert (report.due, report.blocked, report.retried) == (1, 1, 0)
        assert (await w.only_run()).attempts == 1
        w.sf.error = None
        still_refused.clear()
        w.retrier.wake()  # the Reconnector's recovery listener
        w.retrier.wake()  # twice before it ran: one pass, not two
        deadline = time.monotonic() + 5
        while w.retrier.passes < 2:
            assert time.monotonic() < deadline, "the woken pass never ran"
            await asyncio.sleep(0)
        await w.retrier.stop()
        w.retrier.wake()  # stopped: nothing starts
        await asyncio.sleep(0)
        return await w.only_run()

    run = asyncio.run(go())
    assert (run.status, run.attempts) == ("succeeded", 2)
    assert w.retrier.passes == 2  # the blocked one and the woken one
    assert w.leads() == ["ada@example.com"]


def test_on_recovery_every_waiting_run_goes_not_only_the_due_ones() -> None:
    w = World()
    w.retrier.now_ms = lambda: int(time.time() * 1000)  # nothing is due by its backoff

    async def go() -> None:
        w.sf.error = refused()
        for n in range(3):
            w.reader.records[str(60 + n)] = {**ADA, "email": f"p{n}@example.com"}
            await w.engine.handle(created(str(60 + n)))
        assert (await w.retrier.run()).due == 0
        w.sf.error = None
        report = await w.retrier.run(everything=True)
        assert (report.due, report.succeeded) == (3, 3)

    asyncio.run(go())
    assert sorted(w.leads()) == ["p0@example.com", "p1@example.com", "p2@example.com"]


def test_many_waiting_runs_are_taken_in_batches_each_once_per_pass() -> None:
    w = World()
    w.retrier.batch = 2

    async def go() -> None:
        w.sf.error = refused()
        for n in range(5):
            w.reader.records[str(60 + n)] = {**ADA, "email": f"p{n}@example.com"}
            await w.engine.handle(created(str(60 + n)))
        report = await w.retrier.run(everything=True)  # all refused again: each once
        assert (report.due, report.waiting) == (5, 5)
        w.sf.error = None
        report = await w.retrier.run()
        assert (report.due, report.succeeded) == (5, 5)

    asyncio.run(go())
    assert len(w.leads()) == 5


# -- the key is claimed once under a race ----------------------------------------------------


def test_a_retry_racing_a_redelivery_and_another_retrier_acts_once() -> None:
    w = World()
    other = WorkflowRetrier(w.engine, now_ms=lambda: FAR_FUTURE)

    async def go() -> None:
        w.sf.error = refused()
        await w.engine.handle(created())
        w.sf.error = None
        w.sf.gate = asyncio.Event()
        first = asyncio.create_task(w.retrier.run())
        deadline = time.monotonic() + 5
        while w.sf.at_gate == 0:  # the retry holds the key and is creating the Lead
            assert time.monotonic() < deadline, "the retry never reached Salesforce"
            await asyncio.sleep(0)
        assert await w.engine.handle(created(event_id="redelivered")) == []
        assert (await other.run()).retried == 0  # the other retrier finds it running
        w.sf.gate.set()
        report = await first
        assert report.succeeded == 1

    asyncio.run(go())
    assert w.leads() == ["ada@example.com"]


def test_concurrent_retries_of_one_waiting_run_claim_its_key_once() -> None:
    w = World()

    async def go() -> list[WorkflowRun | None]:
        w.sf.error = refused()
        await w.engine.handle(created())
        (waiting,) = await w.ledger.due(FAR_FUTURE)
        w.sf.error = None
        return await asyncio.gather(*(w.engine.retry(waiting) for _ in range(5)))

    results = asyncio.run(go())
    assert sorted(r.status if r else "taken" for r in results) == ["succeeded"] + ["taken"] * 4
    assert w.leads() == ["ada@example.com"]


# -- the store briefly unreachable -----------------------------------------------------------


class FlakyLedger(MemoryLedger):
    """A ledger whose store is unreachable while `down`."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise OperationalError("INSERT", {}, Exception("could not connect to server"))

    async def claim(self, key: str, *, retrying: bool = False) -> bool:
        self._check()
        return await super().claim(key, retrying=retrying)

    async def record(self, run: WorkflowRun) -> None:
        self._check()
        await super().record(run)


def test_an_event_the_store_could_not_claim_waits_in_memory_and_runs_later() -> None:
    ledger = FlakyLedger()
    w = World(ledger=ledger)

    async def go() -> None:
        ledger.down = True
        assert await w.engine.handle(created()) == []
        assert len(w.engine.parked) == 1
        await w.engine.handle(created(event_id="e2"))  # a redelivery of the same change
        assert len(w.engine.parked) == 2
        assert (await w.retrier.run()).replayed == 0  # still down: both kept
        assert len(w.engine.parked) == 2
        ledger.down = False
        report = await w.retrier.run()
        assert report.replayed == 1  # the redelivery found the key taken

    asyncio.run(go())
    assert w.leads() == ["ada@example.com"]
    assert asyncio.run(w.only_run()).status == "succeeded"
    assert not w.engine.parked


def test_a_run_record_the_store_refused_is_written_when_it_answers() -> None:
    ledger = FlakyLedger()
    w = World(ledger=ledger)

    class DownAfterClaim(FakeReader):
        async def read_record(
            self, side: Side, object_type: str, record_id: str, fields: Sequence[str]
        ) -> dict[str, Any] | None:
            ledger.down = True  # the store goes away between the claim and the record
            return await super().read_record(side, object_type, record_id, fields)

    w.engine.reader = DownAfterClaim(w.reader.records)

    async def go() -> None:
        (run,) = await w.engine.handle(created())
        assert run.status == "succeeded" and list(w.engine.unwritten) == [run.key]
        ledger.down = False
        assert (await w.retrier.run()).written == 1
        assert not w.engine.unwritten

    asyncio.run(go())
    assert asyncio.run(w.only_run()).status == "succeeded"
    assert w.leads() == ["ada@example.com"]
