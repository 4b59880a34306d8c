"""`hubforce run`: the long-running service (webhooks, polling, reconciles, workflows)."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from types import FrameType

import typer
from rich.console import Console

from hubforce.cli import app
from hubforce.cli.sync_commands import CONFIG_OPTION, _load, fail
from hubforce.errors import HubforceError
from hubforce.server.service import RunOptions, serve, server_settings, workflows_of


def _exit_cleanly(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


@app.command("run")
def run(
    config: Path = CONFIG_OPTION,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8080, "--port", min=1, max=65535, help="Port to listen on."),
    public_url: str | None = typer.Option(
        None,
        "--public-url",
        help="The https base URL HubSpot posts to (needed behind a proxy for v3 signatures).",
    ),
) -> None:
    """Serve webhooks and hooks, poll Salesforce, reconcile on schedule, run workflows."""
    console = Console()
    settings = _load(console, config)
    options = RunOptions(host=host, port=port, public_url=public_url)
    try:
        server_settings(settings, options)  # fail before listening when secrets are missing
        workflows_of(settings)
        # uvicorn handles SIGTERM (graceful shutdown), then re-raises it to the handler that was
        # there before: this one, so that a finished graceful shutdown exits with status 0.
        signal.signal(signal.SIGTERM, _exit_cleanly)
        asyncio.run(serve(settings, options))
    except HubforceError as exc:
        raise fail(console, exc) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
