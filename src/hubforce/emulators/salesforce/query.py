"""SOQL query endpoints of the Salesforce emulator (stub until the SOQL engine lands)."""

from __future__ import annotations

from fastapi import APIRouter


def build_query_router() -> APIRouter:
    """Return the router serving /query and /queryAll."""
    return APIRouter()
