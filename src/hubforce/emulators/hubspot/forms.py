"""HubSpot forms submission API emulation (stub; filled in by hs-events)."""

from __future__ import annotations

from fastapi import APIRouter


def build_forms_router() -> APIRouter:
    """Return the router serving the forms submission endpoints."""
    return APIRouter()
