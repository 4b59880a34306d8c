"""HubSpot webhook configuration and delivery emulation (stub; filled in by hs-events)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI


def build_webhooks_control_router() -> APIRouter:
    """Return the control router for webhook configuration and delivery."""
    return APIRouter()


def attach_deliverer(app: FastAPI, portal: Any) -> None:
    """Start delivering the portal's events as webhooks (no-op stub)."""
    del app, portal
