"""The `hubforce` command line: Typer commands that parse, call one function and render with Rich.

Each command group lives in its own module and registers itself on `app`.
"""

from __future__ import annotations

import typer

from hubforce import __version__

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
) -> None:
    """Two-way HubSpot <-> Salesforce sync, with local emulators of both APIs."""


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
