"""`hubforce demo` runs end to end (at a small scale): the sync cycles converge, then the
real-time part (`hubforce run` in-process, signed webhooks, the seed workflows) completes every
step within its deadline. Each step's line is printed only after the demo read the outcome
back from the other side's API, so the lines below are the outcomes, not intentions."""

from __future__ import annotations

import re

import pytest
from rich.console import Console
from typer.testing import CliRunner

from hubforce.cli import app
from hubforce.demo_realtime import Live, StepFailed


def test_demo_syncs_edits_converges_and_runs_the_seed_workflows_live() -> None:
    result = CliRunner().invoke(
        app, ["demo", "--scale", "0.08", "--seed", "3"], env={"COLUMNS": "250"}
    )
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "First sync:" in out
    assert "Lead" in out and "converted to Contact" in out
    assert "(no echo: nothing changed)" in out
    assert "contacts two_way:conflict" in out  # the conflict and the rule that decided it
    assert "validation_rule" in out and "Phone is required" in out  # a failure, with example
    assert "API calls spent" in out and "HubSpot" in out and "Salesforce" in out
    assert "Links re-keyed after Lead conversion or merges: 1" in out

    # a) the form submission became a Lead, created by form-to-lead and assigned by the rule.
    lead = re.search(
        r"a\) form -> Lead (00Q\w{15}) Ada Lovelace \(Analytical Engines, source Web\), "
        r"assigned to (.+?) by the assignment rule, in ([\d.]+) s",
        out,
    )
    assert lead is not None, out
    assert lead.group(2) != "Integration User" and float(lead.group(3)) < 20
    # b) and c) e-mail both ways, each read back on the other side.
    both_ways = re.findall(
        r"([bc])\) e-mail (HubSpot -> Salesforce|Salesforce -> HubSpot) .*? in ([\d.]+) s", out
    )
    assert [(step, way) for step, way, _ in both_ways] == [
        ("b", "HubSpot -> Salesforce"),
        ("c", "Salesforce -> HubSpot"),
    ]
    assert all(float(seconds) < 20 for _, _, seconds in both_ways)
    # d) Closed Won -> the deal's company (and contacts) are customers in HubSpot.
    won = re.search(r"d\) Closed Won -> deal \d+'s (\d+) company and (\d+) contact\(s\)", out)
    assert won is not None and int(won.group(1)) >= 1, out
    # e) the runs as `hubforce status` shows them, a graceful stop, the service's API use.
    assert "Workflow runs: closed-won-customer 1 succeeded; form-to-lead 1 succeeded" in out
    assert "Service stopped gracefully" in out
    assert "Real time: API requests" in out and "by the service" in out
    assert "Real-time step failed" not in out and "Traceback" not in out


def test_a_step_past_its_deadline_fails_with_what_was_awaited() -> None:
    live = Live(Console(quiet=True), None, None, None, timeout=0.05)  # type: ignore[arg-type]
    checks = []

    def never() -> None:
        checks.append(1)

    with pytest.raises(StepFailed, match=r"the Lead in Salesforce: not seen within 0\.05 s"):
        live.wait_for("the Lead in Salesforce", never, interval=0.01)
    assert len(checks) >= 2  # it polled until the deadline, not once
