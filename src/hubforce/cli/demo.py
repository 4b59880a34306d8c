"""`hubforce demo`: the project's main job on its embedded defaults."""

from __future__ import annotations

import typer

from hubforce.cli import app


@app.command("demo")
def demo(
    seed: int = typer.Option(7, help="Random seed for the generated data."),
    scale: float = typer.Option(
        1.0, min=0.01, max=50.0, help="Size of the seeded world (1 = a few thousand records)."
    ),
) -> None:
    """Start both emulators in-process, sync them, edit both sides, sync again, summarise."""
    from hubforce.demo import run_demo

    raise typer.Exit(run_demo(seed=seed, scale=scale))
