"""`hubforce emulate hubspot`: serve the emulator in the foreground and print how to reach it."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError
from rich.console import Console

from hubforce.emulators.common import serve as serving
from hubforce.emulators.common.serve import default_cert_dir
from hubforce.emulators.common.tls import ensure_local_certificates
from hubforce.emulators.hubspot.app import create_app
from hubforce.emulators.hubspot.settings import HubSpotEmulatorSettings


def serve(
    *,
    host: str,
    port: int,
    tls: bool,
    config: Path | None,
    static_token: str,
    tier: str,
    token_lifetime: int,
    seed: int | None,
) -> None:
    """Serve until interrupted; print base URL, portal id and credentials first."""
    overrides = {
        "static_token": static_token,
        "tier": tier,
        "token_lifetime": token_lifetime,
        "seed": seed,
    }
    console = Console(soft_wrap=True)  # URLs must stay copyable on one line
    try:
        if config is not None:
            settings = HubSpotEmulatorSettings.from_file(config, **overrides)
        else:
            settings = HubSpotEmulatorSettings.model_validate(
                {k: v for k, v in overrides.items() if v is not None}
            )
    except (ValidationError, ValueError, yaml.YAMLError, OSError) as exc:
        where = f" in {config}" if config is not None else ""
        console.print(f"[red]Invalid HubSpot emulator settings{where}:[/] {exc}")
        raise SystemExit(2) from None
    app = create_app(settings)
    certs = ensure_local_certificates(default_cert_dir()) if tls else None
    base = f"{'https' if tls else 'http'}://{host}:{port}"
    console.print(
        f"[bold]HubSpot emulator[/] on {base}  (portal {settings.portal_id}, tier {tier})"
    )
    console.print(f"  private-app token : {settings.static_token}")
    console.print(f"  OAuth client id   : {settings.client_id}")
    console.print(f"  OAuth secret      : {settings.client_secret}")
    console.print(
        f"  authorize page    : {base}/oauth/authorize"
        f"?client_id={settings.client_id}&redirect_uri=..."
    )
    console.print(
        f"  control API       : {base}/__emulator__/  (reset, seed, stats, faults, limits)"
    )
    if certs is not None:
        console.print(f"  CA certificate    : {certs.ca_file}")
    serving.serve_forever(app, host=host, port=port, certs=certs)
