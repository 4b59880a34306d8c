"""`hubforce init` (write the commented default configuration) and `hubforce schema`."""

from __future__ import annotations

from pathlib import Path

import typer

from hubforce.cli import app
from hubforce.config.defaults import DEFAULT_CONFIG_YAML
from hubforce.config.load import DEFAULT_PATH
from hubforce.config.schema import config_schema_json


@app.command("init")
def init_config(
    path: Path = typer.Argument(Path(DEFAULT_PATH), help="Where to write the configuration."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write the commented default configuration (close to HubSpot's native connector)."""
    if path.exists() and not force:
        typer.echo(f"{path} already exists; use --force to overwrite it.", err=True)
        raise typer.Exit(code=1)
    if path.is_dir():
        typer.echo(f"{path} is a directory; give a file name such as {DEFAULT_PATH}.", err=True)
        raise typer.Exit(code=1)
    path.write_text(DEFAULT_CONFIG_YAML, encoding="utf-8")
    typer.echo(f"Wrote {path}. Export the ${{...}} variables it names, then run hubforce validate.")


@app.command("schema")
def print_schema() -> None:
    """Print the JSON Schema of the configuration file."""
    typer.echo(config_schema_json())
