"""The demo's real-time part: `hubforce run` live against the emulators, after the sync cycles.

The service app (`ServiceApp`, which assembles `build_service` exactly as `hubforce run`
does) is served in-process on a loopback port, the HubSpot emulator delivers signed webhooks
to it, and the seed workflows of the default configuration run:

a) a "Contact us" form submission in HubSpot becomes a Salesforce Lead that the assignment
   rule gives to a rep (workflow `form-to-lead`);
b) an e-mail changed in HubSpot reaches Salesforce (webhook -> targeted sync);
c) an e-mail changed in Salesforce reaches HubSpot (SystemModstamp poll, every 2 s here);
d) an Opportunity marked Closed Won makes its HubSpot company and contacts customers
   (workflow `closed-won-customer`);
e) the workflow runs as `hubforce status` shows them, and the API requests of this part.

Every wait polls observable state with a deadline; a step that misses it fails the demo.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from rich.console import Console
from rich.table import Table

from hubforce.cli.workflow_status import render_workflow_runs
from hubforce.emulators.common.serve import BackgroundServer
from hubforce.emulators.hubspot.form_models import CONTACT_US_GUID
from hubforce.engine.local import EMULATOR_ENV, local_config
from hubforce.server.service import RunOptions, ServiceApp, server_settings
from hubforce.store import Store

T = TypeVar("T")

V = "/services/data/v62.0"
#: The demo's webhook secret lives in this variable, referenced by the config's `server:`.
SECRET_ENV = "HUBFORCE_DEMO_WEBHOOK_SECRET"
#: What a HubSpot app would subscribe to for a two-way sync.
SUBSCRIPTIONS = [
    f"{obj}.{kind}"
    for obj in ("contact", "company", "deal")
    for kind in ("creation", "propertyChange")
]


class StepFailed(RuntimeError):
    """A step did not complete within its deadline."""


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where the demo's emulators and store are."""

    hubspot_url: str
    salesforce_url: str
    store_url: str
    portal_id: int


class Live:
    """The real-time part: one running service, two vendor API clients, a clock."""

    def __init__(
        self,
        console: Console,
        hs: httpx.Client,
        sf: httpx.Client,
        store: Store,
        *,
        timeout: float,
    ) -> None:
        self.console = console
        self.hs = hs
        self.sf = sf
        self.store = store
        self.timeout = timeout
        self.started = time.monotonic()

    def say(self, text: str) -> None:
        """A line with the seconds since the service started."""
        elapsed = time.monotonic() - self.started
        self.console.print(f"[dim]{elapsed:6.1f} s[/]  {text}", highlight=False)

    def wait_for(self, what: str, check: Callable[[], T | None], interval: float = 0.1) -> T:
        """Poll `check` until it returns a value; StepFailed after the deadline."""
        began = time.monotonic()
        with self.console.status(f"waiting for {what}") as status:
            while True:
                value = check()
                if value is not None and value is not False:
                    return value
                waited = time.monotonic() - began
                if waited > self.timeout:
                    raise StepFailed(f"{what}: not seen within {self.timeout:g} s")
                status.update(f"waiting for {what}: {waited:.1f} s")
                time.sleep(interval)

    def soql(self, statement: str) -> list[dict[str, Any]]:
        """Rows of a Salesforce query."""
        reply = self.sf.get(f"{V}/query", params={"q": statement})
        reply.raise_for_status()
        rows: list[dict[str, Any]] = reply.json()["records"]
        return rows

    def hubspot_property(self, object_type: str, record_id: str, name: str) -> str | None:
        """A HubSpot record's property (None while HubSpot's rate limit answers 429)."""
        reply = self.hs.get(
            f"/crm/v3/objects/{object_type}/{record_id}", params={"properties": name}
        )
        if reply.status_code == 429:  # the demo's polling shares the portal's limit
            return None
        reply.raise_for_status()
        value = reply.json()["properties"].get(name)
        return None if value is None else str(value)

    def salesforce_field(self, sobject: str, record_id: str, name: str) -> str | None:
        """A Salesforce record's field."""
        reply = self.sf.get(f"{V}/sobjects/{sobject}/{record_id}", params={"fields": name})
        reply.raise_for_status()
        value = reply.json().get(name)
        return None if value is None else str(value)

    def linked(self, pair: str, sobject: str, skip: int) -> tuple[str, str]:
        """(HubSpot id, Salesforce id) of the `skip`-th link of `pair` to a `sobject`."""
        seen = 0
        for page in self.store.links.iter_pair(pair):
            for link in page:
                if link.salesforce_type == sobject:
                    if seen == skip:
                        return link.hubspot_id, link.salesforce_id
                    seen += 1
        raise StepFailed(f"no {pair} record is linked to a {sobject}")

    # -- the steps ------------------------------------------------------------------------

    def form_to_lead(self, portal_id: int) -> None:
        """a) A "Contact us" submission becomes an assigned Lead."""
        email = "ada.lovelace@analytical-engines.example"
        fields = {
            "email": email,
            "firstname": "Ada",
            "lastname": "Lovelace",
            "company": "Analytical Engines",
        }
        body = {
            "fields": [{"objectTypeId": "0-1", "name": k, "value": v} for k, v in fields.items()],
            "context": {"pageName": "Contact us"},
        }
        began = time.monotonic()
        path = f"/submissions/v3/integration/submit/{portal_id}/{CONTACT_US_GUID}"
        self.hs.post(path, json=body).raise_for_status()
        self.say(f'HubSpot: "Contact us" form submitted by {email}')
        query = (
            "SELECT Id, FirstName, LastName, Company, LeadSource, OwnerId FROM Lead "
            f"WHERE Email = '{email}'"
        )
        lead = self.wait_for(
            "the Lead in Salesforce", lambda: next(iter(self.soql(query)), None), interval=0.05
        )
        seconds = time.monotonic() - began
        owners = self.soql(f"SELECT Name FROM User WHERE Id = '{lead['OwnerId']}'")
        owner = owners[0]["Name"] if owners else lead["OwnerId"]
        self.say(
            f"[green]a)[/] form -> Lead {lead['Id']} {lead['FirstName']} {lead['LastName']} "
            f"({lead['Company']}, source {lead['LeadSource']}), assigned to {owner} by the "
            f"assignment rule, in {seconds:.2f} s"
        )

    def email_hubspot_to_salesforce(self) -> None:
        """b) An e-mail changed in HubSpot reaches Salesforce (webhook, targeted sync)."""
        hs_id, contact = self.linked("contacts", "Contact", 1)
        email = f"new.address.{hs_id}@demo-hubforce.example"
        began = time.monotonic()
        patch = {"properties": {"email": email}}
        self.hs.patch(f"/crm/v3/objects/contacts/{hs_id}", json=patch).raise_for_status()
        self.say(f"HubSpot: contact {hs_id}'s e-mail changed to {email}")
        self.wait_for(
            "the e-mail in Salesforce",
            lambda: self.salesforce_field("Contact", contact, "Email") == email,
            interval=0.05,
        )
        seconds = time.monotonic() - began
        self.say(
            f"[green]b)[/] e-mail HubSpot -> Salesforce Contact {contact} (webhook) "
            f"in {seconds:.2f} s"
        )

    def email_salesforce_to_hubspot(self, poll_seconds: float) -> None:
        """c) An e-mail changed in Salesforce reaches HubSpot (the SystemModstamp poll)."""
        hs_id, lead = self.linked("contacts", "Lead", 3)
        email = f"changed.in.salesforce.{hs_id}@demo-hubforce.example"
        began = time.monotonic()
        self.sf.patch(f"{V}/sobjects/Lead/{lead}", json={"Email": email}).raise_for_status()
        self.say(f"Salesforce: Lead {lead}'s e-mail changed to {email}")
        self.wait_for(
            "the e-mail in HubSpot",
            lambda: self.hubspot_property("contacts", hs_id, "email") == email,
            interval=0.25,  # gently: HubSpot's burst limit is shared with the service
        )
        seconds = time.monotonic() - began
        self.say(
            f"[green]c)[/] e-mail Salesforce -> HubSpot contact {hs_id} (poll every "
            f"{poll_seconds:g} s) in {seconds:.2f} s"
        )

    def closed_won(self) -> None:
        """d) A won Opportunity makes its HubSpot deal's company and contacts customers."""
        opportunity, name, deal, companies, contacts = self._open_deal_with_company()
        began = time.monotonic()
        self.sf.patch(
            f"{V}/sobjects/Opportunity/{opportunity}", json={"StageName": "Closed Won"}
        ).raise_for_status()
        self.say(f"Salesforce: Opportunity {opportunity} {name!r} marked Closed Won")
        targets = [("companies", c) for c in companies] + [("contacts", c) for c in contacts]

        def all_customers() -> bool:
            return all(
                self.hubspot_property(kind, rid, "lifecyclestage") == "customer"
                for kind, rid in targets
            )

        self.wait_for("lifecycle stage customer in HubSpot", all_customers, interval=0.25)
        seconds = time.monotonic() - began
        self.say(
            f"[green]d)[/] Closed Won -> deal {deal}'s {len(companies)} company and "
            f"{len(contacts)} contact(s) now have lifecycle stage customer in HubSpot, "
            f"in {seconds:.2f} s"
        )

    def _open_deal_with_company(self) -> tuple[str, str, str, list[str], list[str]]:
        # Open ones first; a lost one may be won back too (small worlds have few deals).
        rows = self.soql(
            "SELECT Id, Name, StageName FROM Opportunity WHERE StageName != 'Closed Won' "
            "ORDER BY Id LIMIT 200"
        )
        rows.sort(key=lambda row: row["StageName"] == "Closed Lost")
        names = {row["Id"]: row["Name"] for row in rows}
        deals: dict[str, str] = {}
        for opportunity in names:
            link = self.store.links.get("deals", "salesforce", opportunity)
            if link is not None and len(deals) < 100:  # one associations call per kind
                deals[link.hubspot_id] = opportunity
        if not deals:
            raise StepFailed("no Opportunity that is not won yet is linked to a HubSpot deal")
        associated = {
            kind: self._associations(kind, list(deals)) for kind in ("companies", "contacts")
        }
        # A deal with a company and contacts shows both; one with a company only will do.
        order = {deal: i for i, deal in enumerate(deals)}  # open before lost
        candidates = sorted(
            (not associated["contacts"].get(deal), order[deal], deal)
            for deal in deals
            if associated["companies"].get(deal)
        )
        if not candidates:
            raise StepFailed("no deal that is not won yet is associated with a company")
        deal = candidates[0][2]
        opportunity = deals[deal]
        return (
            opportunity,
            names[opportunity],
            deal,
            associated["companies"][deal],
            associated["contacts"].get(deal, []),
        )

    def _associations(self, to_type: str, deals: list[str]) -> dict[str, list[str]]:
        reply = self.hs.post(
            f"/crm/v4/associations/deals/{to_type}/batch/read",
            json={"inputs": [{"id": deal} for deal in deals]},
        )
        reply.raise_for_status()
        return {
            str(item["from"]["id"]): [str(to["toObjectId"]) for to in item.get("to") or ()]
            for item in reply.json().get("results") or ()
        }


def _metrics(url: str) -> dict[str, float]:
    text = httpx.get(url + "/metrics", timeout=10).text
    return {
        key: float(value)
        for key, value in (
            line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#")
        )
    }


def _requests(clients: dict[str, httpx.Client]) -> dict[str, int]:
    """API requests each emulator answered so far (control routes excluded)."""
    return {side: int(c.get("/__emulator__/stats").json()["total"]) for side, c in clients.items()}


class OwnRequests:
    """Counts the demo's own API requests (its checks), to tell them from the service's."""

    def __init__(self, clients: dict[str, httpx.Client]) -> None:
        self.clients = clients
        self.counts = dict.fromkeys(clients, 0)

    def __enter__(self) -> OwnRequests:
        for side, client in self.clients.items():
            client.event_hooks["request"].append(self._hook(side))
        return self

    def __exit__(self, *_exc: object) -> None:
        for client in self.clients.values():
            client.event_hooks["request"].pop()

    def _hook(self, side: str) -> Callable[[httpx.Request], None]:
        def count(request: httpx.Request) -> None:
            if not request.url.path.startswith("/__emulator__"):
                self.counts[side] += 1

        return count


def run_realtime(
    console: Console,
    endpoints: Endpoints,
    hs: httpx.Client,
    sf: httpx.Client,
    store: Store,
    *,
    poll_seconds: float = 2.0,
    timeout: float = 20.0,
) -> int:
    """Serve `hubforce run` in-process, drive steps a) to e); 0 when every step completed."""
    console.rule("[bold]Real time[/]: `hubforce run` with the seed workflows")
    secret = secrets.token_urlsafe(24)

    def with_server(data: dict[str, Any]) -> None:
        # The demo's webhook secret comes through the config's server: section, by reference.
        data["server"] = {"host": "127.0.0.1", "webhook_secret": f"${{{SECRET_ENV}}}"}

    config = local_config(
        endpoints.hubspot_url,
        endpoints.salesforce_url,
        endpoints.store_url,
        edit=with_server,
        env={**EMULATOR_ENV, SECRET_ENV: secret},
    )
    # env={}: the shell's HUBFORCE_* overrides do not apply to the demo's own service.
    settings = server_settings(config, RunOptions(), env={})
    app = ServiceApp(config, settings, salesforce_poll_seconds=poll_seconds)
    clients = {"HubSpot": hs, "Salesforce": sf}
    before = _requests(clients)
    server = BackgroundServer(app)
    try:
        server.start()
    except (RuntimeError, TimeoutError):
        console.print(f"[bold red]The service did not start:[/] {app.startup_error or 'see above'}")
        return 1
    live = Live(console, hs, sf, store, timeout=timeout)
    failed: str | None = None
    counters: dict[str, float] = {}
    own = OwnRequests(clients)
    try:
        with own:
            counters = _steps(live, server.url, secret, endpoints.portal_id, poll_seconds)
    except (StepFailed, httpx.HTTPError) as exc:
        failed = str(exc)
    finally:
        began = time.monotonic()
        hs.delete("/__emulator__/webhooks")
        server.stop(timeout=30)
        stopped = time.monotonic() - began
    if app.stopped_cleanly:
        live.say(f"Service stopped gracefully in {stopped:.2f} s (queued work drained)")
    else:
        failed = failed or "the service did not shut down cleanly"
    render_workflow_runs(console, store)  # what `hubforce status` shows
    _report(console, clients, before, own, counters)
    if failed:
        console.print(f"[bold red]Real-time step failed:[/] {failed}")
        return 1
    return 0


def _steps(
    live: Live, url: str, secret: str, portal_id: int, poll_seconds: float
) -> dict[str, float]:
    live.say(f"hubforce run serving on {url} (the app `hubforce run` serves)")
    webhooks = {
        "targetUrl": url + "/webhooks/hubspot",
        "clientSecret": secret,
        "flushIntervalMs": 50,
        "signatureVersions": ["v3"],
        "subscriptions": [{"subscriptionType": kind} for kind in SUBSCRIPTIONS],
    }
    live.hs.put("/__emulator__/webhooks", json=webhooks).raise_for_status()
    live.say(
        f"HubSpot posts signed v3 webhooks to it; it polls Salesforce every {poll_seconds:g} s"
    )
    live.form_to_lead(portal_id)
    live.email_hubspot_to_salesforce()
    live.email_salesforce_to_hubspot(poll_seconds)
    live.closed_won()
    live.wait_for(
        "the service to finish its queued syncs",
        lambda: _metrics(url).get("hubforce_idle") == 1.0,
    )
    return _metrics(url)


def _report(
    console: Console,
    clients: dict[str, httpx.Client],
    before: dict[str, int],
    own: OwnRequests,
    counters: dict[str, float],
) -> None:
    after = _requests(clients)
    table = Table(title="Real time: API requests (emulator counts)")
    table.add_column("side")
    table.add_column("by the service", justify="right")
    table.add_column("by the demo's checks", justify="right")
    for side in clients:
        mine = own.counts[side]
        table.add_row(side, str(after[side] - before[side] - mine), str(mine))
    console.print(table)
    if counters:

        def count(metric: str, outcome: str) -> int:
            return int(counters.get(f'{metric}_total{{outcome="{outcome}"}}', 0))

        console.print(
            f"Webhook requests accepted: {count('hubforce_webhook_requests', 'accepted')}, "
            f"change events: {count('hubforce_change_events', 'accepted')}, "
            f"targeted syncs: {count('hubforce_targeted_syncs', 'ok')}",
            highlight=False,
        )


__all__ = ["Endpoints", "run_realtime"]
