"""The demo run by `make demo` (replaced piece by piece as the emulators and engine land)."""

from __future__ import annotations


def run_demo(*, seed: int) -> int:
    """Run the demo; return the process exit code."""
    from rich.console import Console

    Console().print(f"[bold]hubforce demo[/] (seed {seed}): emulators are being built.")
    return 0
