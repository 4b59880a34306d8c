"""Process logging: levels, the text and JSON formats, and secrets masked in both."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

import hubforce.cli as cli
from hubforce.logs import configure

LOG = logging.getLogger("hubforce.test_logs")


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    logger = logging.getLogger("hubforce")
    handlers, level = list(logger.handlers), logger.level
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)


def test_text_lines_are_masked_and_filtered_by_level() -> None:
    out = io.StringIO()
    configure("warning", "text", stream=out)
    LOG.info("not shown")
    LOG.warning("refresh failed: refresh_token=abc123secret, Authorization: Bearer eyJhbGciOi")
    text = out.getvalue()
    assert "not shown" not in text
    assert "WARNING hubforce.test_logs: refresh failed" in text
    assert "abc123secret" not in text and "eyJhbGciOi" not in text
    assert text.count("\n") == 1


def test_json_lines_carry_time_level_logger_and_a_masked_traceback() -> None:
    out = io.StringIO()
    configure("info", "json", stream=out)
    try:
        raise RuntimeError("client_secret=s3cr3t rejected")
    except RuntimeError:
        LOG.exception("token call failed for password=hunter2")
    entry = json.loads(out.getvalue())
    assert entry["level"] == "error" and entry["logger"] == "hubforce.test_logs"
    assert entry["message"].startswith("token call failed")
    assert "hunter2" not in out.getvalue() and "s3cr3t" not in out.getvalue()
    assert "RuntimeError" in entry["exception"] and entry["time"].endswith("+00:00")


def test_configuring_again_replaces_the_handler_and_less_detail_hides_nothing_elsewhere() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure("debug", "text", stream=first)
    configure("error", "text", stream=second)
    LOG.warning("once")
    assert first.getvalue() == "" and second.getvalue() == ""  # only the second handler, ERROR+
    assert logging.getLogger("hubforce").getEffectiveLevel() <= logging.DEBUG  # not raised
    with pytest.raises(ValueError, match="unknown log level 'loud'"):
        configure("loud")


def test_the_cli_takes_the_level_and_format_from_options_or_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[tuple[Any, ...]] = []
    monkeypatch.setattr(cli, "configure", lambda *args: seen.append(args))
    runner = CliRunner()
    assert (
        runner.invoke(
            cli.app, ["--log-level", "INFO", "--log-format", "json", "demo", "-h"]
        ).exit_code
        == 0
    )
    env = {"HUBFORCE_LOG_LEVEL": "debug"}
    assert runner.invoke(cli.app, ["demo", "-h"], env=env).exit_code == 0
    assert seen == [("info", "json"), ("debug", "text")]
    bad = runner.invoke(cli.app, ["--log-level", "loud", "demo", "-h"])
    assert bad.exit_code == 2 and "loud" in bad.output
