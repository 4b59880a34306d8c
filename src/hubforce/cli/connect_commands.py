"""`hubforce connect hubspot|salesforce`: authorize hubforce in a browser, keep the token safe."""

from __future__ import annotations

import webbrowser
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from hubforce.cli import app
from hubforce.connect import Connected, OAuthApp, connect, oauth_app, read_config, store_url
from hubforce.errors import AuthFailed, ConfigError, ConnectorError, HubforceError
from hubforce.store import KEY_ENV, SecretBox, open_store
from hubforce.sync.model import Side


def open_browser(url: str) -> object:
    """Open `url` in the user's browser (replaced in tests by a scripted client)."""
    return webbrowser.open(url)


def _exit_code(exc: HubforceError) -> int:
    if isinstance(exc, ConfigError):
        return 2
    if isinstance(exc, AuthFailed):
        return 3
    return 5 if isinstance(exc, ConnectorError) else 1


def _fail(console: Console, exc: HubforceError) -> typer.Exit:
    console.print(f"[bold red]error:[/] {escape(exc.message)}")
    if isinstance(exc, ConnectorError) and exc.api_code:
        console.print(f"  {exc.side} said: {escape(exc.api_code)} {escape(exc.api_message)}")
    if exc.hint:
        console.print(f"  [bold]fix:[/] {escape(exc.hint)}")
    return typer.Exit(_exit_code(exc))


def _next_steps(console: Console, oauth: OAuthApp, done: Connected) -> None:
    side = oauth.side.value
    console.print(
        f"[green]Connected to {side}.[/] The refresh token is stored encrypted in the state "
        f"store as [bold]{done.credential}[/] (key: ${KEY_ENV}; keep it set for `hubforce sync`)."
    )
    console.print(f"Redirect URL used: {done.redirect_uri} (register it in the app if asked).")
    console.print("In the configuration file:", highlight=False)
    lines = ["connections:", f"  {side}:"]
    if done.instance_url:
        lines.append(f"    instance_url: {done.instance_url}")
    lines += [
        "    oauth:",
        f"      client_id: {oauth.client_id}",
        "      client_secret: ${...}   # unchanged: the environment reference you already have",
        f"      # refresh_token: leave it out; it is read from the state store ({done.credential})",
    ]
    console.print(escape("\n".join(lines)), highlight=False)


@app.command("connect")
def connect_command(
    side: Side = typer.Argument(..., help="Which system to authorize: hubspot or salesforce."),
    config: Path = typer.Option(
        Path("hubforce.yaml"), "--config", "-c", help="Configuration file."
    ),
    port: int = typer.Option(0, "--port", help="Local port for the redirect (0: any free one)."),
    no_browser: bool = typer.Option(
        False, "--no-browser", help="Print the URL instead of opening a browser."
    ),
    timeout: float = typer.Option(300.0, "--timeout", help="Seconds to wait for the approval."),
    store: str | None = typer.Option(
        None, "--store", help="State store URL (default: the configuration's).", show_default=False
    ),
) -> None:
    """Authorize hubforce with the OAuth authorization-code flow and store the refresh token
    encrypted in the state store."""
    console = Console()
    try:
        box = SecretBox.from_env()  # first: no point in a browser round trip without a key
        data = read_config(config)
        oauth = oauth_app(side, data, file=str(config))
        url = store or store_url(data)
        with open_store(url) as opened:
            done = connect(
                oauth,
                opened,
                box,
                browser=(lambda _url: None) if no_browser else open_browser,
                port=port,
                timeout=timeout,
                on_url=lambda link: console.print(
                    f"Open this URL to approve hubforce:\n{escape(link)}", soft_wrap=True
                ),
            )
    except HubforceError as exc:
        raise _fail(console, exc) from None
    _next_steps(console, oauth, done)
