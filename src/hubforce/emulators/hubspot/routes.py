"""The URL table of the HubSpot emulator: every vendor and control route at a glance."""

from __future__ import annotations

from fastapi import APIRouter

from hubforce.emulators.hubspot.models import Portal


def build_crm_router(portal: Portal) -> APIRouter:
    """CRM objects, search, batch, merges, properties, associations, owners, pipelines."""
    router = APIRouter()
    return router


def build_oauth_router(portal: Portal) -> APIRouter:
    """OAuth token endpoints and the local authorize page."""
    router = APIRouter()
    return router


def build_control_extras(portal: Portal) -> APIRouter:
    """HubSpot-only control routes under /__emulator__/ (merge)."""
    router = APIRouter()
    return router
