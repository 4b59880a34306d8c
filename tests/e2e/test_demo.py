"""`hubforce demo` runs end to end (at a small scale) and exits 0."""

from __future__ import annotations

from typer.testing import CliRunner

from hubforce.cli import app


def test_demo_syncs_edits_converges_and_summarises() -> None:
    result = CliRunner().invoke(
        app, ["demo", "--scale", "0.08", "--seed", "3"], env={"COLUMNS": "200"}
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
