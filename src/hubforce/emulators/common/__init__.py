"""Plumbing shared by both emulators: clock, stats, faults, limits, control API, serving."""
