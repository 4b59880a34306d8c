"""Bulk API 2.0 endpoints of the Salesforce emulator (stub until the bulk engine lands)."""

from __future__ import annotations

from fastapi import APIRouter


def build_bulk_router() -> APIRouter:
    """Return the router serving /jobs/ingest and /jobs/query."""
    return APIRouter()
