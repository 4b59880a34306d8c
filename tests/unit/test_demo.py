"""The interim demo runs end to end against the in-process Salesforce emulator."""

from __future__ import annotations

import pytest

from hubforce.demo import run_demo


def test_demo_seeds_queries_writes_and_converts(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_demo(seed=7) == 0
    out = capsys.readouterr().out
    assert "Lead" in out and "113" in out
    assert "then 200 created=False" in out
    assert "REQUIRED_FIELD_MISSING" in out
