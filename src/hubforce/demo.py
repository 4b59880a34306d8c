"""The demo run by `make demo`: the Salesforce emulator at work (until the sync engine lands).

It serves the emulator in-process on a free loopback port, seeds it, and makes real HTTP calls
(SOQL queries, a create, an upsert by external id, a Lead conversion) that it prints with Rich.
"""

from __future__ import annotations

from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from hubforce.emulators.common.serve import BackgroundServer
from hubforce.emulators.salesforce.app import SalesforceEmulatorSettings, create_app

V = "/services/data/v59.0"


def _query(client: httpx.Client, soql: str) -> dict[str, Any]:
    reply = client.get(f"{V}/query", params={"q": soql})
    reply.raise_for_status()
    result: dict[str, Any] = reply.json()
    return result


def run_demo(*, seed: int) -> int:
    """Run the demo; return the process exit code."""
    console = Console()
    settings = SalesforceEmulatorSettings(static_token="demo-token")
    with (
        BackgroundServer(create_app(settings)) as server,
        httpx.Client(
            base_url=server.url, headers={"Authorization": "Bearer demo-token"}, timeout=30
        ) as client,
    ):
        console.print(f"[bold]hubforce demo[/]: Salesforce emulator on [cyan]{server.url}[/]")
        created = client.post("/__emulator__/seed", json={"seed": seed}).json()["created"]
        table = Table(title=f"Seeded org (seed {seed})")
        table.add_column("sObject")
        table.add_column("records", justify="right")
        for sobject, count in created.items():
            table.add_row(sobject, str(count))
        console.print(table)

        counts = {
            name: _query(client, f"SELECT COUNT() FROM {name}")["totalSize"]
            for name in ("Lead", "Contact", "Account", "Opportunity")
        }
        console.print(f"SOQL COUNT() per object: {counts}")
        recent = _query(
            client,
            "SELECT Id, Name, Company, Owner.Email, SystemModstamp FROM Lead "
            "WHERE IsConverted = false ORDER BY SystemModstamp DESC LIMIT 5",
        )
        leads = Table(title="Five most recently modified Leads")
        for column in ("Id", "Name", "Company", "Owner"):
            leads.add_column(column)
        for row in recent["records"]:
            owner = (row.get("Owner") or {}).get("Email", "")
            leads.add_row(row["Id"], row["Name"], row["Company"], owner)
        console.print(leads)

        new = client.post(
            f"{V}/sobjects/Lead",
            json={"FirstName": "Demo", "LastName": "Lead", "Company": "Hubforce Demo Inc"},
        ).json()
        lead = client.get(f"{V}/sobjects/Lead/{new['id']}").json()
        console.print(f"Created Lead {new['id']}, assigned by rule to owner {lead['OwnerId']}")
        upsert = client.patch(
            f"{V}/sobjects/Lead/HubSpot_Id__c/demo-1",
            json={"LastName": "Upserted", "Company": "Hubforce Demo Inc"},
        )
        again = client.patch(f"{V}/sobjects/Lead/HubSpot_Id__c/demo-1", json={"Title": "CTO"})
        console.print(
            f"Upsert by HubSpot_Id__c: first {upsert.status_code} (created), "
            f"then {again.status_code} created={again.json()['created']}"
        )
        converted = client.post("/__emulator__/convert-lead", json={"leadId": new["id"]}).json()
        console.print(
            f"Converted the Lead: Account {converted['accountId']}, "
            f"Contact {converted['contactId']}, Opportunity {converted['opportunityId']}"
        )
        bad = client.post(f"{V}/sobjects/Lead", json={"Company": "No Last Name"})
        console.print(f"A Lead without LastName is refused: {bad.status_code} {bad.json()}")
        stats = client.get("/__emulator__/stats").json()
        usage = client.get(f"{V}/limits").headers["sforce-limit-info"]
        console.print(f"API calls counted by the org: {stats['api_calls']} ({usage})")
    return 0
