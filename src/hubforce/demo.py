"""The demo run by `make demo` / `hubforce demo`: hubforce's main job on its embedded defaults.

Both emulators are served in-process on loopback ports and seeded from one world (overlapping,
realistic records on both sides). The first sync runs with a progress bar; then live edits are
made through the vendors' APIs (updates each way, a conflict on a two-way field, a Lead
conversion, new records on both sides, a record Salesforce's validation rule refuses), the next
cycles run, and a summary shows what was matched, created, updated, which rule decided each
conflict, failures by category, and the API calls spent per side. The last cycle must write
nothing (no echo), or the demo exits 1. Then `hubforce run` serves live with the default
config's seed workflows (`hubforce.demo_realtime`): a form submission becomes an assigned
Lead, e-mail changes cross in seconds both ways, a won Opportunity makes HubSpot customers.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hubforce.connectors.governor import Governor, hubspot_governor, salesforce_governor
from hubforce.demo_realtime import Endpoints, run_realtime
from hubforce.emulators.common.serve import BackgroundServer
from hubforce.emulators.hubspot.app import create_app as create_hubspot_app
from hubforce.emulators.hubspot.settings import HubSpotEmulatorSettings
from hubforce.emulators.salesforce.app import create_app as create_salesforce_app
from hubforce.engine.context import CycleOptions, CycleReport, PairReport
from hubforce.engine.cycle import run_cycle
from hubforce.engine.local import local_config
from hubforce.engine.runner import sync_context
from hubforce.store import Store, open_store
from hubforce.sync.model import Side

V = "/services/data/v62.0"
TOKEN = {"Authorization": "Bearer emulator-token"}
#: Seed counts at scale 1: a few thousand records over both sides.
BASE_WORLD = {"people": 1500, "companies": 300, "deals": 200, "reps": 8}


@dataclass(slots=True)
class Totals:
    """Counts summed over the demo's cycles, per pair."""

    matched: dict[str, int] = field(default_factory=dict)
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    conflicts: dict[str, int] = field(default_factory=dict)
    relinked: int = 0

    def add(self, report: CycleReport) -> None:
        """Fold one cycle in."""
        for pair in report.pairs:
            self.matched[pair.pair] = self.matched.get(pair.pair, 0) + pair.matched
            self._merge(self.created, pair, pair.created)
            self._merge(self.updated, pair, pair.updated)
            for key, n in pair.conflicts.items():
                name = f"{pair.pair} {key}"
                self.conflicts[name] = self.conflicts.get(name, 0) + n
            self.relinked += pair.relinked

    @staticmethod
    def _merge(into: dict[str, int], pair: PairReport, counts: dict[str, int]) -> None:
        for key, n in counts.items():
            name = f"{pair.pair} -> {key}"
            into[name] = into.get(name, 0) + n


class Demo:
    """One demo run: servers, store, configuration and the helpers to edit both sides."""

    def __init__(
        self, console: Console, hs_url: str, sf_url: str, store: Store, store_url: str
    ) -> None:
        self.console = console
        self.hs = httpx.Client(base_url=hs_url, headers=TOKEN, timeout=60)
        self.sf = httpx.Client(base_url=sf_url, headers=TOKEN, timeout=60)
        self.store = store
        self.config = local_config(hs_url, sf_url, store_url)
        budgets = self.config.budgets
        self.governors: dict[Side, Governor] = {
            Side.HUBSPOT: hubspot_governor(share=budgets.hubspot.daily_share),
            Side.SALESFORCE: salesforce_governor(share=budgets.salesforce.daily_share),
        }
        self.totals = Totals()

    def close(self) -> None:
        """Close the HTTP clients."""
        self.hs.close()
        self.sf.close()

    def call(self, client: httpx.Client, method: str, path: str, **kw: Any) -> Any:
        """One vendor API call; a refusal is shown, not raised."""
        reply = client.request(method, path, **kw)
        if reply.status_code >= 400:
            self.console.print(f"  [yellow]{method} {path} -> {reply.status_code}[/]")
            return None
        return reply.json() if reply.content else None

    def cycle(self, title: str, progress: Progress | None = None, total: int = 0) -> CycleReport:
        """Run one sync cycle and fold it into the totals."""
        options = CycleOptions()
        if progress is not None:
            task = progress.add_task(title, total=total)
            options.progress = lambda _pair, n: progress.advance(task, n)
        report = asyncio.run(self._run(options))
        self.totals.add(report)
        return report

    async def _run(self, options: CycleOptions) -> CycleReport:
        # One governor per side for the whole demo, as `hubforce sync` keeps one for its loop:
        # HubSpot's search limit sends no headers, so a fresh governor per cycle would not know
        # the searches the previous cycle made a moment ago.
        async with sync_context(
            self.config, options=options, store=self.store, governors=self.governors
        ) as ctx:
            return await run_cycle(ctx)

    def linked(self, sobject: str, skip: int = 0) -> tuple[str, str]:
        """(HubSpot id, Salesforce id) of the `skip`-th contact linked to a `sobject`."""
        seen = 0
        for page in self.store.links.iter_pair("contacts"):
            for link in page:
                if link.salesforce_type == sobject:
                    if seen == skip:
                        return link.hubspot_id, link.salesforce_id
                    seen += 1
        raise RuntimeError(f"no contact is linked to a {sobject}")

    def live_edits(self) -> list[str]:
        """Edit both sides through their APIs, as users would; say what was done."""
        done: list[str] = []
        hs_id, _ = self.linked("Lead", 0)
        self.call(
            self.hs,
            "PATCH",
            f"/crm/v3/objects/contacts/{hs_id}",
            json={"properties": {"phone": "+1 415 555 0199", "city": "Oakland"}},
        )
        done.append(f"HubSpot: contact {hs_id} phone and city edited")
        _, lead2 = self.linked("Lead", 1)
        self.call(self.sf, "PATCH", f"{V}/sobjects/Lead/{lead2}", json={"Title": "VP Revenue"})
        done.append(f"Salesforce: Lead {lead2} title edited")
        hs_c, contact = self.linked("Contact", 0)
        self.call(
            self.hs,
            "PATCH",
            f"/crm/v3/objects/contacts/{hs_c}",
            json={"properties": {"jobtitle": "Head of Growth (HubSpot)"}},
        )
        self.call(
            self.sf,
            "PATCH",
            f"{V}/sobjects/Contact/{contact}",
            json={"Title": "Head of Growth (Salesforce)"},
        )
        done.append(f"Conflict: contact {hs_c} / Contact {contact} title edited on both sides")
        _, lead3 = self.linked("Lead", 2)
        converted = self.call(
            self.sf,
            "POST",
            "/__emulator__/convert-lead",
            json={"leadId": lead3, "doNotCreateOpportunity": True},
        )
        if converted:
            done.append(f"Salesforce: Lead {lead3} converted to Contact {converted['contactId']}")
        self.call(
            self.hs,
            "POST",
            "/crm/v3/objects/contacts",
            json={
                "properties": {
                    "email": "new.buyer@demo-hubforce.example",
                    "firstname": "Nora",
                    "lastname": "Buyer",
                }
            },
        )
        done.append("HubSpot: new contact new.buyer@demo-hubforce.example")
        self.call(
            self.sf,
            "POST",
            f"{V}/sobjects/Lead",
            json={
                "LastName": "Prospect",
                "FirstName": "Sam",
                "Company": "Demo Works",
                "Email": "sam.prospect@demo-works.example",
            },
        )
        done.append("Salesforce: new Lead sam.prospect@demo-works.example")
        self.call(
            self.hs,
            "POST",
            "/crm/v3/objects/contacts",
            json={
                "properties": {
                    "email": "no.phone@demo-hubforce.example",
                    "lastname": "Worked",
                    "hs_lead_status": "IN_PROGRESS",
                }
            },
        )
        done.append("HubSpot: contact in progress without a phone (Salesforce will refuse it)")
        return done

    def api_calls(self) -> dict[str, int]:
        """API calls each emulator answered (its own count, from /__emulator__/stats)."""
        return {
            "HubSpot": int(self.hs.get("/__emulator__/stats").json()["api_calls"]),
            "Salesforce": int(self.sf.get("/__emulator__/stats").json()["api_calls"]),
        }


def _table(title: str, counts: dict[str, int], label: str = "what", unit: str = "records") -> Table:
    table = Table(title=title)
    table.add_column(label)
    table.add_column(unit, justify="right")
    for key, n in sorted(counts.items()):
        table.add_row(key, str(n))
    if not counts:
        table.add_row("-", "0")
    return table


def run_demo(*, seed: int, scale: float = 1.0, realtime: bool = True) -> int:
    """Run the demo; return the process exit code (0 when the last cycle wrote nothing and
    every real-time step completed within its deadline)."""
    console = Console()
    world = {k: max(2, int(v * scale)) for k, v in BASE_WORLD.items()}
    started = time.monotonic()
    hs_settings = HubSpotEmulatorSettings(tier="enterprise")
    hubspot = create_hubspot_app(hs_settings)
    salesforce = create_salesforce_app()
    with (
        BackgroundServer(hubspot) as hs_server,
        BackgroundServer(salesforce) as sf_server,
        tempfile.TemporaryDirectory(prefix="hubforce-demo-") as tmp,
    ):
        # A file store: the service of the real-time part opens it too, as `hubforce run` would.
        store_url = f"sqlite:///{Path(tmp) / 'demo.db'}"
        store = open_store(store_url)
        demo = Demo(console, hs_server.url, sf_server.url, store, store_url)
        try:
            code = _play(console, demo, seed, world)
            if code == 0 and realtime:
                endpoints = Endpoints(
                    hs_server.url, sf_server.url, store_url, hs_settings.portal_id
                )
                code = run_realtime(console, endpoints, demo.hs, demo.sf, store)
            console.print(f"Done in {time.monotonic() - started:.1f} s.")
            return code
        finally:
            demo.close()
            store.close()


def _play(console: Console, demo: Demo, seed: int, world: dict[str, int]) -> int:
    console.rule("[bold]hubforce demo[/]: two-way HubSpot <-> Salesforce sync")
    console.print(f"HubSpot emulator    {demo.hs.base_url}")
    console.print(f"Salesforce emulator {demo.sf.base_url}")
    body = {"seed": seed, **world}
    # Salesforce dates its world from a moment taken before either seed, so the seeded
    # conflicts (and the counts shown) are the same however long the HubSpot seed takes.
    now = datetime.now(UTC).isoformat()
    hs_seed = demo.call(demo.hs, "POST", "/__emulator__/seed", json=body) or {}
    sf_body = {**body, "now": now}
    sf_seed = (demo.call(demo.sf, "POST", "/__emulator__/seed", json=sf_body) or {}).get(
        "created", {}
    )
    console.print(f"Seeded HubSpot {hs_seed} and Salesforce {sf_seed} from seed {seed}")
    total = sum(v for k, v in hs_seed.items() if k in ("companies", "contacts", "deals"))
    total += sum(
        v for k, v in sf_seed.items() if k in ("Account", "Lead", "Contact", "Opportunity")
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        first = demo.cycle("First sync (match, then create both ways)", progress, total)
    console.print(f"First sync: {first.writes} records written, {first.failures} failures")

    console.rule("Live edits through the vendors' APIs")
    for line in demo.live_edits():
        console.print(f"  {line}", highlight=False)
    second = demo.cycle("Second cycle")
    console.print(f"Second cycle: {second.writes} records written (the edits above)")
    # Values Salesforce fills in on create (a Lead's default Status) flow back one cycle
    # later; after that a cycle with no outside change must write nothing (no echo).
    last = second
    for number in range(3, 6):
        last = demo.cycle(f"Cycle {number}")
        note = "no echo: nothing changed" if not last.writes else "server-filled values"
        console.print(f"Cycle {number}: {last.writes} records written ({note})")
        if not last.writes:
            break
    console.rule("Summary")
    totals = demo.totals
    console.print(_table("Matched before creating", totals.matched, "object pair"))
    console.print(_table("Created (pair -> side:type)", totals.created))
    console.print(_table("Updated (pair -> side:type)", totals.updated))
    console.print(_table("Conflicts (pair rule:kind)", totals.conflicts))
    console.print(f"Links re-keyed after Lead conversion or merges: {totals.relinked}")
    failures = Table(title="Failures by category (records waiting in the failure store)")
    failures.add_column("pair")
    failures.add_column("category")
    failures.add_column("records", justify="right")
    failures.add_column("example")
    failures.add_column("what to do")
    for group in demo.store.failures.groups():
        example = group.example
        record = example.hubspot_id or example.salesforce_id or "-"
        failures.add_row(
            group.pair,
            group.category,
            str(group.count),
            f"{example.side} {example.operation} of {record}: {example.api_code} {example.message}",
            example.remediation,
        )
    console.print(failures)
    calls = demo.api_calls()
    console.print(_table("API calls spent (emulator counts)", calls, "side", "calls"))
    if last.writes:
        console.print("[bold red]The last cycle wrote records: sync did not converge[/]")
        return 1
    return 0


__all__ = ["Demo", "run_demo"]
