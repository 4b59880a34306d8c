"""The `hubforce` command line: Typer commands that parse, call one function and render with Rich.

Each command group lives in its own module and registers itself on `app`.
"""

from __future__ import annotations

from enum import StrEnum

import typer

from hubforce import __version__
from hubforce.logs import configure


class LogLevel(StrEnum):
    """`--log-level` values."""

    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class LogFormatChoice(StrEnum):
    """`--log-format` values."""

    TEXT = "text"
    JSON = "json"


app = typer.Typer(
    name="hubforce",
    help="Two-way HubSpot <-> Salesforce sync, with local emulators of both APIs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"hubforce {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False,
        "--version",
        "-V",
        help="Print the version and exit.",
        callback=_print_version,
        is_eager=True,
    ),
    log_level: LogLevel = typer.Option(
        LogLevel.WARNING,
        "--log-level",
        envvar="HUBFORCE_LOG_LEVEL",
        help="Log to stderr from this level on.",
        case_sensitive=False,
    ),
    log_format: LogFormatChoice = typer.Option(
        LogFormatChoice.TEXT,
        "--log-format",
        envvar="HUBFORCE_LOG_FORMAT",
        help="text (one readable line) or json (one object per line, for log shippers).",
        case_sensitive=False,
    ),
) -> None:
    """Two-way HubSpot <-> Salesforce sync, with local emulators of both APIs."""
    configure(log_level.value, "json" if log_format is LogFormatChoice.JSON else "text")


def _register_commands() -> None:
    # Imported for their side effect of adding commands to `app`.
    from hubforce.cli import (  # noqa: F401
        config_commands,
        connect_commands,
        demo,
        emulate,
        failure_commands,
        run_commands,
        sync_commands,
    )


_register_commands()


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["app", "main"]
