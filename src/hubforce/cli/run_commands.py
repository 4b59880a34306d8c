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
from hubforce.server.service import run_options, serve, server_settings, workflows_of


def _exit_cleanly(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


@app.command("run")
def run(
    config: Path = CONFIG_OPTION,
    host: str | None = typer.Option(
        None, "--host", help="Address to listen on (default: server.host, else 127.0.0.1)."
    ),
    port: int | None = typer.Option(
        None,
        "--port",
        min=1,
        max=65535,
        help="Port to listen on (default: server.port, else 8080).",
    ),
    public_url: str | None = typer.Option(
        None,
        "--public-url",
        help="The https base URL HubSpot posts to (needed behind a proxy for v3 signatures) "
        "(default: server.public_url).",
    ),
) -> None:
    """Serve webhooks and hooks, poll Salesforce, reconcile on schedule, run workflows.

    Flags win over the config's `server:` section; HUBFORCE_* variables win over its secrets.
    """
    console = Console()
    settings = _load(console, config)
    options = run_options(settings, host=host, port=port, public_url=public_url)
    try:
        server_settings(settings, options)  # fail before listening when secrets are missing
        workflows_of(settings)
        # uvicorn handles SIGTERM (graceful shutdown), then re-raises it to the handler that was
        # there before: this one, so that a finished graceful shutdown exits with status 0.
        signal.signal(signal.SIGTERM, _exit_cleanly)
        asyncio.run(serve(settings, options, config_file=config))
    except HubforceError as exc:
        raise fail(console, exc) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
