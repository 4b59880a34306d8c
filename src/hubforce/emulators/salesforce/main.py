"""`hubforce emulate salesforce`: serve the emulator in the foreground and print how to use it."""

from __future__ import annotations

from pathlib import Path

import yaml
from rich.console import Console

from hubforce.emulators.common.serve import default_cert_dir, serve_forever
from hubforce.emulators.common.tls import ensure_local_certificates
from hubforce.emulators.salesforce.app import SalesforceEmulatorSettings, create_app
from hubforce.emulators.salesforce.editions import EDITIONS


def serve(
    *,
    host: str,
    port: int,
    tls: bool,
    config: Path | None,
    static_token: str,
    edition: str,
    token_lifetime: int,
    seed: int | None,
) -> None:
    """Build the app, print the base URL and credentials, and serve until interrupted."""
    console = Console()
    if edition not in EDITIONS:
        console.print(f"[red]Unknown edition {edition!r}[/]: use one of {', '.join(EDITIONS)}.")
        raise SystemExit(2)
    try:
        settings = SalesforceEmulatorSettings(
            static_token=static_token,
            edition=edition,
            token_lifetime=token_lifetime,
            config_path=config,
            seed=seed,
        )
        app = create_app(settings)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        console.print(f"[red]Cannot start the Salesforce emulator:[/] {exc}")
        raise SystemExit(2) from exc
    certs = ensure_local_certificates(default_cert_dir()) if tls else None
    scheme = "https" if tls else "http"
    base = f"{scheme}://{host}:{port}"
    creds = app.state.backend.config.credentials
    console.print(f"[bold]Salesforce emulator[/] ({edition}) on [cyan]{base}[/]")
    console.print(f"  REST base       {base}/services/data/v59.0/")
    console.print(f"  static token    {static_token}  (Authorization: Bearer ...)")
    console.print(f"  username        {creds.username}")
    console.print(f"  password        {creds.password}")
    console.print(f"  security token  {creds.security_token}")
    console.print(f"  consumer key    {creds.consumer_key}")
    console.print(f"  consumer secret {creds.consumer_secret}")
    console.print(f"  control API     {base}/__emulator__/ (reset, seed, stats, faults, ...)")
    if certs is not None:
        console.print(f"  CA file         {certs.ca_file}")
        console.print(f"  hint            export REQUESTS_CA_BUNDLE={certs.ca_file}")
    serve_forever(app, host=host, port=port, certs=certs)
