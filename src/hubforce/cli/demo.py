"""`hubforce demo`: the project's main job on its embedded defaults."""

from __future__ import annotations

import typer

from hubforce.cli import app


@app.command("demo")
def demo(
    seed: int = typer.Option(7, help="Random seed for the generated data."),
) -> None:
    """Start the emulators in-process, seed them and show hubforce at work."""
    from hubforce.demo import run_demo

    raise typer.Exit(run_demo(seed=seed))
