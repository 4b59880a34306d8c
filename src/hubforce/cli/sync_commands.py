"""`hubforce sync`, `hubforce validate` and `hubforce status`: parse, call one function, render."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hubforce.cli import app
from hubforce.cli.workflow_status import render_workflow_runs
from hubforce.config import HubforceConfig, load_config
from hubforce.engine.context import CycleOptions, CycleReport
from hubforce.engine.cycle import run_cycle
from hubforce.engine.reconnect import Reconnector
from hubforce.engine.runner import compile_mappings, sync_context
from hubforce.engine.validate import Problem, validate_mappings
from hubforce.errors import AuthFailed, ConfigError, ConnectorError, HubforceError, RateLimited
from hubforce.store import open_store

CONFIG_OPTION = typer.Option(Path("hubforce.yaml"), "--config", "-c", help="Configuration file.")


def _exit_code(exc: HubforceError) -> int:
    if isinstance(exc, ConfigError):
        return 2
    if isinstance(exc, AuthFailed):
        return 3
    if isinstance(exc, RateLimited):
        return 4
    if isinstance(exc, ConnectorError):
        return 5
    return 1


def render_error(console: Console, exc: HubforceError) -> None:
    """Render a hubforce error once (what failed, the API's words, what to do)."""
    console.print(f"[bold red]error:[/] {exc.message}")
    if isinstance(exc, ConnectorError) and exc.api_code:
        console.print(f"  {exc.side} said: {exc.api_code} {exc.api_message}")
    if exc.hint:
        console.print(f"  [bold]fix:[/] {exc.hint}")


def fail(console: Console, exc: HubforceError) -> typer.Exit:
    """Render a hubforce error and give the exit that ends the command (a code per category)."""
    render_error(console, exc)
    return typer.Exit(_exit_code(exc))


def _load(console: Console, path: Path) -> HubforceConfig:
    try:
        return load_config(path)
    except ConfigError as exc:
        raise fail(console, exc) from None


def render_report(console: Console, report: CycleReport, *, verbose: bool = False) -> None:
    """A table of what a cycle did (or, dry, would do) per pair and side."""
    title = "Dry run: nothing was written" if report.dry_run else f"Sync run {report.run_id}"
    table = Table(title=title)
    columns = ("pair", "read", "matched", "created", "updated", "blanks", "deleted", "conflicts")
    for column in columns:
        table.add_column(column)
    table.add_column("failures", style="red")
    for pair in report.pairs:

        def fmt(counts: dict[str, int]) -> str:
            return "\n".join(f"{k} {v}" for k, v in sorted(counts.items())) or "-"

        table.add_row(
            pair.pair,
            fmt(pair.read),
            str(pair.matched),
            fmt(pair.created),
            fmt(pair.updated),
            fmt(pair.blanked),
            fmt(pair.deleted),
            fmt(pair.conflicts),
            fmt(pair.failures),
        )
    console.print(table)
    for pair in report.pairs:
        for category, example in sorted(pair.failure_examples.items()):
            console.print(f"[red]{pair.pair}[/] {category}: {example}")
        if report.dry_run or verbose:
            for line in pair.planned:
                console.print(f"  [cyan]{pair.pair}[/] {escape(line)}", highlight=False)


@app.command("sync")
def sync(
    config: Path = CONFIG_OPTION,
    once: bool = typer.Option(False, "--once", help="Run one cycle and exit."),
    dry_run: bool = typer.Option(
        False,
        "--dry-run",
        help="Print the plan (creates, updates, blanks, conflicts); write nothing.",
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="List every operation."),
) -> None:
    """Sync HubSpot and Salesforce: one cycle with --once, else every poll interval."""
    console = Console()
    settings = _load(console, config)
    options = CycleOptions(dry_run=dry_run)
    try:
        asyncio.run(
            _cycles(
                console,
                settings,
                options,
                once=once or dry_run,
                verbose=verbose,
                config_file=config,
            )
        )
    except HubforceError as exc:
        raise fail(console, exc) from None
    except KeyboardInterrupt:
        # Committed rounds stay committed; the next run resumes from cursors and intents.
        console.print("stopped")
        raise typer.Exit(130) from None


async def _cycles(
    console: Console,
    config: HubforceConfig,
    options: CycleOptions,
    *,
    once: bool,
    verbose: bool,
    config_file: Path | None = None,
) -> None:
    """Run cycles on one long-lived context, every poll interval unless `once`.

    After each cycle the Slack digest (if configured) announces new failure groups, a failed
    authentication or a budget pause, and their recoveries. Without `once`, such a stop is
    reported and the loop goes on: before the next cycle (one interval later) the refused
    side's connection is rebuilt from `config_file` as it is then and the store (a new
    `hubforce connect`), so renewed credentials are picked up without a restart.
    """
    async with sync_context(config, options=options, connect=False) as ctx:
        keeper = Reconnector.for_config(
            ctx, config, reload=(lambda: load_config(config_file)) if config_file else None
        )
        if options.dry_run:
            keeper.notifier = None  # a dry run writes nothing, the alert state included
        while True:
            stopped: AuthFailed | RateLimited | None = None
            renewed = keeper.renewals
            try:
                report = await keeper.attempt(lambda: run_cycle(ctx))
                render_report(console, report, verbose=verbose)
            except (AuthFailed, RateLimited) as exc:
                stopped = exc
            if keeper.renewals > renewed:
                console.print("[green]Renewed credentials are in use.[/]")
            if stopped is not None and once:
                raise stopped
            if once:
                return
            wait = float(config.schedule.salesforce_poll_seconds)
            if stopped is not None:
                render_error(console, stopped)
                if isinstance(stopped, RateLimited):
                    wait = max(wait, stopped.retry_after)
            await asyncio.sleep(wait)


@app.command("validate")
def validate(config: Path = CONFIG_OPTION) -> None:
    """Check every mapping against both live schemas before any write."""
    console = Console()
    settings = _load(console, config)
    try:
        problems = asyncio.run(_validate(settings))
    except HubforceError as exc:
        raise fail(console, exc) from None
    errors = [p for p in problems if p.severity == "error"]
    for problem in problems:
        colour = "red" if problem.severity == "error" else "yellow"
        console.print(
            f"[{colour}]{problem.severity}[/] {problem.pair} {problem.side} "
            f"{problem.object_type}.{problem.field}: {problem.message}",
            highlight=False,
        )
        console.print(f"    fix: {escape(problem.fix)}", highlight=False)
    pairs = ", ".join(compile_mappings(settings))
    if errors:
        console.print(f"[bold red]{len(errors)} problem(s)[/] in the mappings of {pairs}")
        raise typer.Exit(1)
    console.print(f"[bold green]ok[/]: the mappings of {pairs} fit both schemas")


async def _validate(config: HubforceConfig) -> list[Problem]:
    async with sync_context(config) as ctx:
        return await validate_mappings(ctx)


# The message run_cycle records when a limit stopped the run (RateLimited's own wording).
_PAUSED = re.compile(r"Rate limited by .+? \((\w+)\): retry in (\d+)s")


def next_sync_after_pause(message: str | None, finished_at: int | None) -> datetime | None:
    """When a run stopped by the budget (or a window) may sync again, from its record."""
    match = _PAUSED.search(message or "")
    if match is None or finished_at is None:
        return None
    return datetime.fromtimestamp(finished_at / 1000 + int(match.group(2)), tz=UTC)


def _when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@app.command("status")
def status(config: Path = CONFIG_OPTION) -> None:
    """Links, last run and pending failures per object pair, workflow runs (store only)."""
    console = Console()
    settings = _load(console, config)
    try:
        store = open_store(settings.connections.store.url)
    except HubforceError as exc:
        raise fail(console, exc) from None
    with store:
        run = store.runs.latest(kind="sync")
        if run is None:
            console.print("No sync has run yet: `hubforce sync --once`.")
        else:
            console.print(
                f"Last run {run.id}: [bold]{run.status}[/], started {_when(run.started_at)}, "
                f"finished {_when(run.finished_at)}" + (f" — {run.message}" if run.message else "")
            )
            resume = next_sync_after_pause(run.message, run.finished_at)
            if resume is not None:
                console.print(
                    f"[yellow]Rate limited: next sync at {resume.strftime('%H:%M')} UTC[/]"
                )
        links = store.links.count()
        pending = store.intents.unresolved()
        table = Table(title="Object pairs")
        for column in ("pair", "links", "pending failures", "cursor (HubSpot / Salesforce)"):
            table.add_column(column)
        for name in compile_mappings(settings):
            failures = store.failures.counts(name)
            table.add_row(
                name,
                str(links.get(name, 0)),
                ", ".join(f"{k} {v}" for k, v in sorted(failures.items())) or "none",
                " / ".join(
                    "set" if store.cursors.get(name, side) else "-"
                    for side in ("hubspot", "salesforce")
                ),
            )
        console.print(table)
        if pending:
            console.print(
                f"[yellow]{len(pending)} create(s) in doubt[/]: the next sync settles them"
            )
        render_workflow_runs(console, store)
