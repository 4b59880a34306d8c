"""`hubforce emulate salesforce|hubspot`: serve a local emulator of either API."""

from __future__ import annotations

from pathlib import Path

import typer

from hubforce.cli import app

emulate_app = typer.Typer(
    help="Serve a local emulator of the Salesforce or HubSpot API.", no_args_is_help=True
)
app.add_typer(emulate_app, name="emulate")


@emulate_app.command("salesforce")
def emulate_salesforce(
    port: int = typer.Option(8701, help="Port to listen on."),
    host: str = typer.Option("127.0.0.1", help="Address to bind."),
    tls: bool = typer.Option(False, "--tls", help="Serve HTTPS with a generated local CA."),
    config: Path | None = typer.Option(
        None, "--config", exists=True, dir_okay=False, help="Emulator YAML config (org schema)."
    ),
    static_token: str = typer.Option(
        "emulator-token", help="An access token that is always valid (for tests)."
    ),
    edition: str = typer.Option(
        "enterprise", help="Org edition: professional, enterprise or unlimited."
    ),
    token_lifetime: int = typer.Option(7200, help="Seconds before an OAuth access token expires."),
    seed: int | None = typer.Option(None, help="Seed the org with demo data from this seed."),
) -> None:
    """Serve the Salesforce REST/SOAP/Bulk API emulator."""
    from hubforce.emulators.salesforce.main import serve

    serve(
        host=host,
        port=port,
        tls=tls,
        config=config,
        static_token=static_token,
        edition=edition,
        token_lifetime=token_lifetime,
        seed=seed,
    )


@emulate_app.command("hubspot")
def emulate_hubspot(
    port: int = typer.Option(8702, help="Port to listen on."),
    host: str = typer.Option("127.0.0.1", help="Address to bind."),
    tls: bool = typer.Option(False, "--tls", help="Serve HTTPS with a generated local CA."),
    config: Path | None = typer.Option(
        None, "--config", exists=True, dir_okay=False, help="Emulator YAML config (portal)."
    ),
    static_token: str = typer.Option(
        "emulator-token", help="A private-app token that is always valid (for tests)."
    ),
    tier: str = typer.Option(
        "professional", help="Rate-limit tier: free, starter, professional or enterprise."
    ),
    token_lifetime: int = typer.Option(1800, help="OAuth access token lifetime (expires_in)."),
    seed: int | None = typer.Option(None, help="Seed the portal with demo data from this seed."),
) -> None:
    """Serve the HubSpot CRM API emulator."""
    from hubforce.emulators.hubspot.main import serve

    serve(
        host=host,
        port=port,
        tls=tls,
        config=config,
        static_token=static_token,
        tier=tier,
        token_lifetime=token_lifetime,
        seed=seed,
    )
