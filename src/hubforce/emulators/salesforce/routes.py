"""The URL table of the Salesforce emulator: one glance shows every vendor route."""

from __future__ import annotations

from fastapi import APIRouter


def build_routers() -> list[APIRouter]:
    """Every router except query and bulk (which sf-soql builds)."""
    return []
