"""`hubforce sync`, `hubforce validate` and `hubforce status`: parse, call one function, render."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import traceback
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hubforce.alerts.notices import Notice, NoticeKind, Notices, describe, store_unavailable
from hubforce.cli import app
from hubforce.cli.workflow_status import render_workflow_runs
from hubforce.config import HubforceConfig, load_config
from hubforce.engine.context import CycleOptions, CycleReport
from hubforce.engine.cycle import run_cycle
from hubforce.engine.reconnect import Reconnector
from hubforce.engine.runner import compile_mappings, sync_context
from hubforce.engine.validate import Problem, validate_mappings
from hubforce.errors import AuthFailed, ConfigError, ConnectorError, HubforceError, RateLimited
from hubforce.store import RunStatus, Store, open_store

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
    if report.stopped:
        console.print(
            "Stopped on request at a round's end: what is above is recorded; the next cycle "
            "resumes from the cursors."
        )
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
        code = asyncio.run(
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
    except Exception as exc:
        if not store_unavailable(exc):
            raise  # a bug: its traceback is what a report needs
        console.print(f"[bold red]error:[/] {escape(describe(exc))}", soft_wrap=True)
        raise typer.Exit(1) from None
    if code:
        raise typer.Exit(code)


#: The longest wait between two attempts of a failing loop (its backoff's cap), unless the
#: poll interval itself is longer.
MAX_BACKOFF_S = 600.0
#: Exit status after a stop forced by a second SIGTERM (128 + 15, what a shell reports).
SIGTERM_EXIT = 128 + signal.SIGTERM


def loop_wait(interval: float, failures: int, cap: float = MAX_BACKOFF_S) -> float:
    """Seconds before the next attempt after `failures` failed cycles in a row: the interval,
    doubled per failure past the first, capped at `cap` (or the interval if longer)."""
    if failures <= 1:
        return interval
    return min(interval * 2.0 ** min(failures - 1, 30), max(interval, cap))


class LoopStop:
    """SIGTERM for the `hubforce sync` loop: the first stops the cycle in flight at the end of
    its round in hand (every round so far is recorded with its cursors; the run is recorded as
    interrupted unless that was the last round), a second stops that round now (the next run
    resumes from cursors and create intents). Between cycles, the first stops at once."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.requested = asyncio.Event()
        self.forced = False
        self.cycle: asyncio.Task[CycleReport] | None = None
        self._installed = False

    def install(self) -> None:
        """Handle SIGTERM on the running loop (where the platform allows it)."""
        try:
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, self._on_sigterm)
            self._installed = True
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, Windows
            pass

    def remove(self) -> None:
        """Give SIGTERM back to its default handling."""
        if self._installed:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGTERM)
            self._installed = False

    def _on_sigterm(self) -> None:
        running = self.cycle is not None and not self.cycle.done()
        if self.requested.is_set() and running:
            self.forced = True
            assert self.cycle is not None
            self.cycle.cancel()
            return
        self.requested.set()
        if running:
            self.console.print(
                "SIGTERM: stopping at the end of the round in flight (SIGTERM again: stop now)"
            )

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds`, or less when a stop is requested."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.requested.wait(), timeout=seconds)


def _latest_run(store: Store) -> int | None:
    """The newest sync run's id (None before the first, or when the store does not answer)."""
    with contextlib.suppress(Exception):  # the cycle itself reports a store that is down
        run = store.runs.latest(kind="sync")
        return None if run is None else run.id
    return None


def _close_interrupted(store: Store, before: int | None, why: str) -> None:
    """Record the run a forced stop cut short as interrupted (not left `running`)."""
    with contextlib.suppress(Exception):  # the store may be what failed
        run = store.runs.latest(kind="sync")
        if run is not None and run.id != before and run.status is RunStatus.RUNNING:
            store.runs.finish(run.id, RunStatus.INTERRUPTED, counts=run.counts, message=why)


async def _cycles(
    console: Console,
    config: HubforceConfig,
    options: CycleOptions,
    *,
    once: bool,
    verbose: bool,
    config_file: Path | None = None,
    interval: float | None = None,
) -> int:
    """Run cycles on one long-lived context, every poll interval unless `once`; returns the
    exit status (0, or 143 after a forced SIGTERM stop).

    After each cycle the Slack digest (if configured) announces new failure groups, a failed
    authentication, a budget pause or a failing sync, and their recoveries. With `once`, any
    error ends the command. Without it, only a ConfigError (exit 2), SIGINT (130) and SIGTERM
    (0, or 143 when a second one cut a cycle short) stop the loop: any other failure (refused
    credentials, a rate limit, API errors that outlast the retries, an unreachable store, a
    bug) is recorded by the cycle, printed as one line (once, then a reminder now and then,
    and a line when it works again; a bug also prints its traceback once) and tried again:
    on the next interval, or later by a capped backoff while it keeps failing. Before each
    attempt a refused side's connection is rebuilt from `config_file` as it is then and the
    store (a new `hubforce connect`), so renewed credentials are picked up without a restart.
    """
    every = float(interval if interval is not None else config.schedule.salesforce_poll_seconds)
    async with sync_context(config, options=options, connect=False) as ctx:
        keeper = Reconnector.for_config(
            ctx, config, reload=(lambda: load_config(config_file)) if config_file else None
        )
        if options.dry_run:
            keeper.notifier = None  # a dry run writes nothing, the alert state included
        notices = Notices()
        stop = LoopStop(console)
        if not once:
            stop.install()
            options.stop_requested = stop.requested.is_set
        failures = 0
        try:
            while True:
                renewed = keeper.renewals
                before = None if options.dry_run else _latest_run(ctx.store)
                stop.cycle = asyncio.ensure_future(keeper.attempt(lambda: run_cycle(ctx)))
                error: Exception | None = None
                try:
                    report = await stop.cycle
                except asyncio.CancelledError:
                    signal_name = "SIGTERM" if stop.forced else "SIGINT"
                    why = f"stopped by {signal_name} during the cycle; the next run resumes"
                    if not options.dry_run:
                        _close_interrupted(ctx.store, before, why)
                    if not stop.forced:
                        raise  # SIGINT: asyncio.run turns it into KeyboardInterrupt
                    console.print(
                        "stopped: SIGTERM interrupted the cycle in flight (recorded as "
                        "interrupted); the next run resumes from the cursors and create intents"
                    )
                    return SIGTERM_EXIT
                except Exception as exc:
                    if once or isinstance(exc, ConfigError):
                        raise
                    error = exc
                else:
                    render_report(console, report, verbose=verbose)
                finally:
                    stop.cycle = None
                if keeper.renewals > renewed:
                    console.print("[green]Renewed credentials are in use.[/]")
                if once:
                    return 0
                wait = every
                if error is None:
                    failures = 0
                    _say(console, notices.succeeded("sync"), None)
                else:
                    if isinstance(error, RateLimited):
                        wait = max(wait, error.retry_after)
                    elif not isinstance(error, AuthFailed):
                        # The Reconnector paces renewals; API and store trouble backs off.
                        failures += 1
                        wait = loop_wait(every, failures)
                    then = f"; next attempt in {_seconds(wait)}"
                    _say(console, notices.failed("sync", error, then=then), error)
                if stop.requested.is_set():
                    console.print("stopped (SIGTERM)")
                    return 0
                await stop.sleep(wait)
                if stop.requested.is_set():
                    console.print("stopped (SIGTERM)")
                    return 0
        finally:
            stop.remove()


def _seconds(seconds: float) -> str:
    return f"{seconds:.0f}s" if seconds < 120 else f"{seconds / 60:.0f} min"


def _say(console: Console, notice: Notice | None, error: BaseException | None) -> None:
    """Print a loop notice: one line (and, for a bug, its traceback once)."""
    if notice is None:
        return
    style = {
        NoticeKind.FAILED: "red",
        NoticeKind.REMINDER: "yellow",
        NoticeKind.RECOVERED: "green",
    }[notice.kind]
    console.print(f"[{style}]{escape(notice.text)}[/]", highlight=False, soft_wrap=True)
    if notice.traceback and error is not None:
        console.print("".join(traceback.format_exception(error)), markup=False, highlight=False)


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
