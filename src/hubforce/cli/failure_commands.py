"""`hubforce errors` and `hubforce retry`: the record failures in the store, grouped by cause.

`errors` lists the open groups (or exports every failure to CSV); `retry` marks failures due
now so the next cycle tries them again after a fix, and with `--now` runs that cycle. `retry
--workflows` does the same for workflow runs that failed before any effect (refused for good,
or abandoned after their maximum age): they wait for `hubforce run`'s next retry pass; with
`--interrupted`, for the runs a stopped process interrupted instead, once someone checked that
the action their error names did not happen (they resume at the first action not done).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hubforce.cli import app
from hubforce.config import load_config
from hubforce.errors import Category, ConfigError, HubforceError
from hubforce.store import Store, open_store
from hubforce.store.export import write_csv

CONFIG_OPTION = typer.Option(Path("hubforce.yaml"), "--config", "-c", help="Configuration file.")
STORE_OPTION = typer.Option(
    None,
    "--store",
    help="State store URL (default: the one in the configuration file).",
    show_default=False,
)
CATEGORY_OPTION = typer.Option(
    None,
    "--category",
    help="Only this category: " + ", ".join(c.value for c in Category) + ".",
    show_default=False,
)
PAIR_OPTION = typer.Option(
    None,
    "--pair",
    help="Only this object pair (contacts, companies, deals...).",
    show_default=False,
)
_EXAMPLE_WIDTH = 120


def _render_error(console: Console, exc: HubforceError) -> typer.Exit:
    # Same shape as `sync_commands.fail` (imported lazily there: it pulls in the engine).
    console.print(f"[bold red]error:[/] {escape(exc.message)}")
    if exc.hint:
        console.print(f"  [bold]fix:[/] {escape(exc.hint)}")
    return typer.Exit(2 if isinstance(exc, ConfigError) else 1)


def _category(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return Category(value.strip().lower()).value
    except ValueError:
        known = ", ".join(c.value for c in Category)
        raise typer.BadParameter(
            f"unknown category {value!r}; use one of: {known}", param_hint="--category"
        ) from None


def _open(console: Console, config: Path, store_url: str | None) -> Store:
    """The state store from `--store`, else from the configuration file."""
    try:
        url = store_url if store_url else load_config(config).connections.store.url
        return open_store(url)
    except HubforceError as exc:
        raise _render_error(console, exc) from None


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def _shorten(text: str, width: int = _EXAMPLE_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


@app.command("errors")
def errors(
    category: str | None = CATEGORY_OPTION,
    pair: str | None = PAIR_OPTION,
    export: Path | None = typer.Option(
        None, "--export", help="Write every open failure to this CSV file.", show_default=False
    ),
    config: Path = CONFIG_OPTION,
    store_url: str | None = STORE_OPTION,
) -> None:
    """Record failures grouped by cause: count, first/last seen, an example, what to do."""
    console = Console()
    wanted = _category(category)
    with _open(console, config, store_url) as store:
        if export is not None:
            rows = store.failures.find(wanted, pair=pair)
            write_csv(rows, export)
            console.print(f"Exported {len(rows)} failure(s) to {escape(str(export))}")
            return
        groups = store.failures.groups(wanted, pair=pair)
    if not groups:
        console.print(
            "No open record failures" + (" matching the filters." if wanted or pair else ".")
        )
        return
    table = Table(title="Record failures by cause", show_lines=True)
    for column in ("category", "pair", "API code", "count", "first seen", "last seen"):
        table.add_column(column, no_wrap=column != "category")
    table.add_column("example")
    table.add_column("what to do")
    for group in groups:
        example = group.example
        ids = " / ".join(
            part for part in (example.hubspot_id or "", example.salesforce_id or "") if part
        )
        text = f"{ids}: {example.message}" if ids else example.message
        table.add_row(
            group.category,
            group.pair,
            group.api_code or "-",
            str(group.count),
            _when(group.first_seen),
            _when(group.last_seen),
            escape(_shorten(text)),
            escape(example.remediation or "-"),
        )
    console.print(table)
    total = sum(g.count for g in groups)
    console.print(
        f"{total} failed record(s) in {len(groups)} group(s). After a fix: "
        "`hubforce retry --category <category>` (or `--all`)."
    )


@app.command("retry")
def retry(
    category: str | None = CATEGORY_OPTION,
    pair: str | None = PAIR_OPTION,
    all_: bool = typer.Option(False, "--all", help="Retry every open failure."),
    now: bool = typer.Option(False, "--now", help="Run one sync cycle right away."),
    workflows: bool = typer.Option(
        False,
        "--workflows",
        help="Retry workflow runs that failed before any effect or were abandoned (all, or "
        "those of --category); `hubforce run` runs them on its next retry pass.",
    ),
    interrupted: bool = typer.Option(
        False,
        "--interrupted",
        help="With --workflows: retry instead the runs interrupted by a stopped process "
        "(`hubforce status` lists them), after checking that the action each one names did "
        "not happen; they resume at their first action not recorded as done.",
    ),
    config: Path = CONFIG_OPTION,
    store_url: str | None = STORE_OPTION,
) -> None:
    """Mark failures due now, so the next cycle tries them again (after a fix)."""
    console = Console()
    wanted = _category(category)
    if interrupted and not workflows:
        raise typer.BadParameter(
            "--interrupted is for workflow runs: add --workflows", param_hint="--interrupted"
        )
    if workflows:
        _retry_workflows(console, wanted, pair, now, config, store_url, interrupted=interrupted)
        return
    if (wanted is None) == (not all_):
        raise typer.BadParameter(
            "give exactly one of --category C or --all", param_hint="--category / --all"
        )
    with _open(console, config, store_url) as store:
        count = store.failures.request_retry(wanted, pair=pair)
    what = f"{wanted} " if wanted else ""
    console.print(f"{count} {what}failure(s) will be retried on the next sync cycle.")
    if now and count:
        _run_one_cycle(console, config)


def _retry_workflows(
    console: Console,
    category: str | None,
    pair: str | None,
    now: bool,
    config: Path,
    store_url: str | None,
    *,
    interrupted: bool = False,
) -> None:
    if interrupted and category is not None:
        raise typer.BadParameter(
            "interrupted runs have no failure category: give --interrupted alone",
            param_hint="--interrupted",
        )
    if pair is not None or now:
        raise typer.BadParameter(
            "--pair and --now are for record failures; workflow runs are retried by "
            "`hubforce run` on its next retry pass",
            param_hint="--workflows",
        )
    # Imported here: listing record failures must not need the workflow modules.
    from hubforce.workflows.store_ledger import StoreLedger

    with _open(console, config, store_url) as store:
        ledger = StoreLedger(store)
        count = asyncio.run(ledger.request_retry(category=category, interrupted=interrupted))
    if interrupted:
        console.print(
            f"{count} interrupted workflow run(s) will be run again by `hubforce run` within "
            "one poll interval, from their first action not recorded as done."
        )
        return
    what = f"{category} " if category else ""
    console.print(
        f"{count} {what}workflow run(s) will be retried by `hubforce run` within one poll "
        "interval (runs that failed after an effect are not: check them in `hubforce status`)."
    )


def _run_one_cycle(console: Console, config: Path) -> None:
    # The engine is imported only here: listing failures must not need it.
    from hubforce.cli.sync_commands import fail, render_report
    from hubforce.engine.cycle import run_cycle
    from hubforce.engine.runner import sync_context

    async def once() -> None:
        async with sync_context(load_config(config)) as ctx:
            render_report(console, await run_cycle(ctx))

    try:
        asyncio.run(once())
    except HubforceError as exc:
        raise fail(console, exc) from None
