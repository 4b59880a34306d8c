"""Form triggers by GUID: exact matching through the submissions API, the catch-up of
submissions no webhook brought, one run whichever path sees a submission first, and bad
answers recorded (never raised, never skipped past)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest

from hubforce.connectors.hubspot.auth import PrivateAppToken
from hubforce.connectors.hubspot.client import HubSpotClient
from hubforce.server.adapters import HubSpotFormSource
from hubforce.server.events import ChangeEvent
from hubforce.sync.model import Side
from hubforce.workflows.actions import ActionRunner
from hubforce.workflows.catchup import CURSOR_SIDE, OVERLAP_MS, FormCatchUp, cursor_name
from hubforce.workflows.engine import WorkflowEngine
from hubforce.workflows.forms import (
    Submission,
    SubmissionSource,
    SubmissionsShapeError,
    conversion_ms,
    matching_submission,
    parse_submission_page,
    submission_key,
)
from hubforce.workflows.model import WorkflowsConfig
from hubforce.workflows.runs import MemoryLedger, WorkflowRun
from tests.unit.workflows.fakes import (
    FakeForms,
    FakeHubSpot,
    FakeReader,
    FakeSalesforce,
    MemoryCursors,
)

GUID_A, GUID_B = "aaaaaaaa-0000-4000-8000-000000000001", "bbbbbbbb-0000-4000-8000-000000000002"
# A submission time near now: the engine judges a submission's age by the wall clock.
T0 = int(time.time() * 1000)


def lead_workflow(name: str, form: str, form_name: str | None = None) -> dict[str, Any]:
    trigger: dict[str, Any] = {"type": "hubspot.form_submitted", "form": form}
    if form_name is not None:
        trigger["form_name"] = form_name
    return {
        "name": name,
        "trigger": trigger,
        "condition": "email is not empty",
        "actions": [
            {
                "type": "salesforce.create",
                "sobject": "Lead",
                "values": {"LastName": "{lastname}", "Company": "x", "Email": "{email}"},
                "match_on": None,  # every run creates: the tests count runs by Leads
            }
        ],
    }


def person(email: str, form_name: str = "Contact us") -> dict[str, Any]:
    return {
        "email": email,
        "lastname": email.split("@")[0].title(),
        "recent_conversion_event_name": f"Landing: {form_name}",
    }


class World:
    """An engine over fakes: contacts 51 (ada) and 52 (bob), both forms named "Contact us"."""

    def __init__(self, *workflows: dict[str, Any], source: SubmissionSource | None = None) -> None:
        self.sf, self.hs = FakeSalesforce(), FakeHubSpot()
        self.reader = FakeReader({"51": person("ada@example.com"), "52": person("bob@example.com")})
        self.forms = FakeForms()
        self.ledger = MemoryLedger()
        self.engine = WorkflowEngine(
            WorkflowsConfig.model_validate({"workflows": list(workflows)}).workflows,
            reader=self.reader,
            runner=ActionRunner(salesforce=self.sf, hubspot=self.hs),
            ledger=self.ledger,
            forms=source or self.forms,
        )
        self.cursors = MemoryCursors()
        self.now = T0
        self.catchup = FormCatchUp(self.engine, self.cursors, now_ms=lambda: self.now)

    def submit(self, form: str, contact: str, at: int) -> Submission:
        email = {"51": "ada@example.com", "52": "bob@example.com"}[contact]
        return self.forms.submit(form, email.upper(), at, contact=contact)

    def leads(self) -> list[str]:
        return [values["Email"] for _, values, _ in self.sf.created]

    def cursor(self, form: str) -> int:
        return int(self.cursors.values[(cursor_name(form), CURSOR_SIDE)])


def webhook(contact: str, at: int, event_id: str = "1") -> ChangeEvent:
    return ChangeEvent(
        Side.HUBSPOT,
        "contacts",
        contact,
        "propertyChange",
        at,
        event_id,
        "recent_conversion_date",
        str(at),
    )


def outcomes(runs: list[WorkflowRun]) -> list[tuple[str, str, str | None]]:
    return [(r.workflow, r.status, r.error) for r in runs]


# -- matching on the webhook path ------------------------------------------------------------


def test_two_forms_with_the_same_name_are_told_apart_by_guid() -> None:
    w = World(
        lead_workflow("lead-a", GUID_A, "Contact us"), lead_workflow("lead-b", GUID_B, "Contact us")
    )
    w.submit(GUID_A, "51", T0)

    runs = asyncio.run(w.engine.handle(webhook("51", T0)))

    assert outcomes(runs) == [
        ("lead-a", "succeeded", None),
        ("lead-b", "skipped", "another form"),
    ]
    assert w.leads() == ["ada@example.com"]
    assert runs[0].trigger["form"] == GUID_A and runs[0].trigger["submitted_at"] == T0


def test_without_form_name_a_submission_of_another_form_is_skipped() -> None:
    w = World(lead_workflow("lead-a", GUID_A))
    w.submit(GUID_B, "51", T0)  # ada submitted form B, which no workflow names

    runs = asyncio.run(w.engine.handle(webhook("51", T0)))

    assert outcomes(runs) == [("lead-a", "skipped", "another form")]
    assert w.leads() == []
    assert w.forms.reads == [(GUID_A, None)]  # one page read: only older submissions there


def test_a_repeated_submission_of_the_same_form_runs_twice() -> None:
    w = World(lead_workflow("lead-a", GUID_A))
    w.submit(GUID_A, "51", T0)
    w.submit(GUID_A, "51", T0 + 60_000)
    w.submit(GUID_A, "52", T0 + 60_000)  # bob at the same millisecond: his own submission

    async def go() -> list[WorkflowRun]:
        runs = await w.engine.handle(webhook("51", T0))
        runs += await w.engine.handle(webhook("51", T0 + 60_000))
        runs += await w.engine.handle(webhook("51", T0 + 60_000, event_id="redelivered"))
        return runs

    runs = asyncio.run(go())
    assert [r.status for r in runs] == ["succeeded", "succeeded"]
    assert runs[0].key != runs[1].key
    assert w.leads() == ["ada@example.com", "ada@example.com"]


def test_the_nearest_submission_within_the_tolerance_is_the_one() -> None:
    a = Submission(GUID_A, T0, {"email": "Ada@Example.com"})
    b = Submission(GUID_A, T0 + 1500, {"email": "ada@example.com"})
    other = Submission(GUID_A, T0 + 10, {"email": "bob@example.com"})
    assert matching_submission([a, b, other], "ada@example.com", T0 + 1000) is b
    assert matching_submission([a, b, other], "ADA@example.com", T0 + 200) is a
    assert matching_submission([a, b], "ada@example.com", T0 + 5000) is None
    assert matching_submission([a, b], None, T0) is None


def test_conversion_dates_read_as_ms_or_iso() -> None:
    assert conversion_ms(str(T0)) == T0
    assert conversion_ms("2027-01-15T08:00:00.123Z") == 1_800_000_000_123
    assert conversion_ms("2027-01-15T08:00:00") is None  # no zone: not guessed
    assert conversion_ms("soon") is None and conversion_ms(None) is None


def test_keys_are_the_same_for_both_paths_and_bounded() -> None:
    s = Submission(GUID_A, T0, {"email": " Ada@Example.com "})
    assert submission_key("w", s) == f"w:form:{GUID_A}:ada@example.com:{T0}"
    long = Submission(GUID_A, T0, {"email": "x" * 300 + "@example.com"})
    key = submission_key("w", long)
    assert len(key) <= 255 and key.startswith("w:form:") and key.endswith(str(T0))


def test_an_unconfirmable_webhook_is_recorded_and_the_catch_up_runs_it() -> None:
    w = World(lead_workflow("lead-a", GUID_A))

    async def go() -> list[WorkflowRun]:
        await w.catchup.run()  # first start: the cursor is set to now
        w.submit(GUID_A, "51", T0 + 1)
        w.forms.fail = RuntimeError("HubSpot said 503")
        runs = await w.engine.handle(webhook("51", T0 + 1))
        w.forms.fail = None
        report = await w.catchup.run()
        assert (report.runs, report.unhandled) == (1, 0)
        return runs

    (failed,) = asyncio.run(go())
    assert failed.status == "failed" and failed.error is not None
    assert "HubSpot said 503" in failed.error
    assert w.leads() == ["ada@example.com"]


# -- the catch-up ----------------------------------------------------------------------------


def test_the_catch_up_runs_missed_submissions_once_whichever_path_comes_first() -> None:
    w = World(lead_workflow("lead-a", GUID_A))

    async def go() -> None:
        first = await w.catchup.run()
        assert (first.forms, first.submissions, first.runs) == (1, 0, 0)
        assert w.cursor(GUID_A) == T0 and w.forms.reads == []  # nothing read on a first start
        w.submit(GUID_A, "51", T0 - OVERLAP_MS - 1)  # before the cursor's window: history
        w.submit(GUID_A, "51", T0 + 10)  # missed by webhooks
        w.submit(GUID_A, "52", T0 + 20)  # its webhook comes first
        (by_webhook,) = await w.engine.handle(webhook("52", T0 + 20))
        assert by_webhook.status == "succeeded"
        report = await w.catchup.run()
        assert (report.submissions, report.runs, report.unhandled) == (2, 1, 0)
        assert w.cursor(GUID_A) == T0 + 20
        # The webhook of the submission the catch-up ran arrives late: nothing runs again.
        assert await w.engine.handle(webhook("51", T0 + 10)) == []
        again = await w.catchup.run()  # re-reads the overlap, runs nothing
        assert (again.submissions, again.runs) == (2, 0)

    asyncio.run(go())
    assert sorted(w.leads()) == ["ada@example.com", "bob@example.com"]
    runs = asyncio.run(w.ledger.recent())
    assert sorted((r.trigger["kind"], r.trigger["object_id"]) for r in runs) == [
        ("catch-up", "51"),
        ("propertyChange", "52"),
    ]


def test_the_catch_up_pages_back_to_its_window_and_each_workflow_of_the_form_runs() -> None:
    w = World(lead_workflow("lead-a", GUID_A), lead_workflow("lead-a2", GUID_A))
    w.forms.page_size = 3

    async def go() -> None:
        await w.catchup.run()
        for i in range(7):
            w.submit(GUID_A, "51" if i % 2 else "52", T0 + 1000 * (i + 1))
        report = await w.catchup.run()
        assert (report.submissions, report.runs) == (7, 14)

    asyncio.run(go())
    assert len(w.leads()) == 14
    assert w.cursor(GUID_A) == T0 + 7000
    # Pages back until one is older than the window: 7 submissions, 3 per page.
    assert [after for _, after in w.forms.reads] == [None, "3", "6"]


def test_a_failed_run_holds_the_cursor_until_it_succeeds() -> None:
    w = World(lead_workflow("lead-a", GUID_A))

    async def go() -> None:
        await w.catchup.run()
        w.submit(GUID_A, "51", T0 + 10)
        w.submit(GUID_A, "52", T0 + 20)
        w.sf.refuse = True  # Salesforce refuses every Lead: no effect, keys given back
        report = await w.catchup.run()
        assert (report.runs, report.unhandled) == (2, 2)
        assert w.cursor(GUID_A) == T0 + 9  # before the first submission not handled
        w.sf.refuse = False
        report = await w.catchup.run()
        assert (report.runs, report.unhandled) == (2, 0)
        assert w.cursor(GUID_A) == T0 + 20

    asyncio.run(go())
    assert w.leads() == ["ada@example.com", "bob@example.com"]


def test_a_contact_not_there_yet_is_looked_for_again() -> None:
    w = World(lead_workflow("lead-a", GUID_A))

    async def go() -> None:
        await w.catchup.run()
        w.forms.items[GUID_A] = [Submission(GUID_A, T0 + 10, {"email": "new@example.com"})]
        w.forms.items[GUID_A].append(Submission(GUID_A, T0 + 20, {"firstname": "no e-mail"}))
        report = await w.catchup.run()
        assert (report.runs, report.unhandled) == (2, 1)
        assert w.cursor(GUID_A) == T0 + 9

    asyncio.run(go())
    runs = asyncio.run(w.ledger.recent())
    assert sorted((r.status, r.error or "") for r in runs) == [
        ("failed", "no contact has the submitted e-mail yet; the next catch-up looks again"),
        ("skipped", "the submission has no e-mail"),
    ]


def test_a_long_gone_contact_is_skipped_not_retried_forever() -> None:
    w = World(lead_workflow("lead-a", GUID_A))
    old = Submission(GUID_A, T0 - 2 * 60 * 60 * 1000, {"email": "gone@example.com"})
    run = asyncio.run(w.engine.run_submission(w.engine.workflows[0], old))
    assert run is not None
    assert (run.status, run.error) == ("skipped", "no contact has the submitted e-mail")


def shape_source(answers: list[Any]) -> HubSpotFormSource:
    """The real adapter over the real client, answering `answers` in turn."""

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == f"/form-integrations/v1/submissions/forms/{GUID_A}"
        assert request.url.params["limit"] == "50"
        body = answers.pop(0)
        return httpx.Response(200, content=body if isinstance(body, bytes) else json.dumps(body))

    client = HubSpotClient(
        "https://api.hubapi.test",
        auth=PrivateAppToken("pat-test"),
        transport=httpx.MockTransport(handler),
    )
    return HubSpotFormSource(client)


GOOD = {"results": [{"conversionId": "c1", "submittedAt": 1, "values": []}]}


@pytest.mark.parametrize(
    ("answer", "detail"),
    [
        (b"<html>maintenance</html>", "the body is not JSON"),
        ({"results": {"c1": {}}}, "no 'results' list"),
        ({"results": [{"submittedAt": "yesterday", "values": []}]}, "submittedAt is not epoch"),
        ({"results": [{"submittedAt": T0, "values": {"email": "a"}}]}, "values is not a list"),
        ({**GOOD, "paging": {"next": {}}}, "'paging.next' without an 'after'"),
    ],
)
def test_an_unexpected_answer_is_a_recorded_error_and_nothing_is_skipped(
    answer: Any, detail: str
) -> None:
    fixed = {
        "results": [
            {
                "conversionId": "c1",
                "submittedAt": T0 + 10,
                "values": [{"name": "email", "value": "ada@example.com"}],
            }
        ]
    }
    contacts = FakeForms()
    contacts.contacts["ada@example.com"] = "51"
    w = World(
        lead_workflow("lead-a", GUID_A), source=_Resolve(shape_source([answer, fixed]), contacts)
    )

    async def go() -> None:
        await w.catchup.run()
        assert w.cursor(GUID_A) == T0
        report = await w.catchup.run()
        assert report.runs == 0 and len(report.errors) == 1 and detail in report.errors[0]
        assert w.cursor(GUID_A) == T0  # not moved past what was not read
        report = await w.catchup.run()  # the API answers properly again
        assert (report.runs, report.errors) == (1, [])
        assert w.cursor(GUID_A) == T0 + 10

    asyncio.run(go())
    runs = asyncio.run(w.ledger.recent())
    assert [r.status for r in runs] == ["succeeded", "failed"]
    error = runs[1].error or ""
    assert "SubmissionsShapeError" in error and "unexpected shape" in error
    assert "report the answer of GET" in error  # what to do
    assert w.leads() == ["ada@example.com"]


class _Resolve:
    """Submissions from the adapter, contacts from a fake (no CRM in this test)."""

    def __init__(self, source: SubmissionSource, contacts: FakeForms) -> None:
        self.source, self.contacts = source, contacts

    async def submissions(self, form_guid: str, after: str | None = None) -> Any:
        return await self.source.submissions(form_guid, after)

    async def contact_id(self, email: str) -> str | None:
        return await self.contacts.contact_id(email)


def test_parse_reads_the_documented_shape() -> None:
    body = {
        "results": [
            {
                "conversionId": "c2",
                "submittedAt": str(T0),
                "values": [{"name": "email", "value": "A@X.com"}, {"name": "n", "value": None}],
                "pageUrl": "https://example.com/contact",
            }
        ],
        "paging": {"next": {"after": 50, "link": "..."}},
    }
    page = parse_submission_page(GUID_A, body)
    (submission,) = page.submissions
    assert (submission.submitted_at, submission.email, submission.conversion_id) == (
        T0,
        "a@x.com",
        "c2",
    )
    assert submission.values["n"] == "" and page.after == "50"
    assert parse_submission_page(GUID_A, {"results": []}).after is None
    with pytest.raises(SubmissionsShapeError, match="results\\[0\\] is not an object"):
        parse_submission_page(GUID_A, {"results": [7]})


def test_the_engine_refuses_form_triggers_without_a_submissions_source() -> None:
    workflows = WorkflowsConfig.model_validate({"workflows": [lead_workflow("a", GUID_A)]})
    with pytest.raises(ValueError, match="SubmissionSource"):
        WorkflowEngine(
            workflows.workflows,
            reader=FakeReader({}),
            runner=ActionRunner(),
            ledger=MemoryLedger(),
        )
