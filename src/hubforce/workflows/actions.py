"""Workflow actions: Salesforce create/update (with assignment), HubSpot update, Slack, webhook.

Each action renders its templated values from the trigger record, performs one call through
the project's connectors (or httpx for Slack and outbound webhooks) and returns an
`ActionResult`; a refused record becomes a failed result with the vendor's message, never an
exception. Results of earlier actions are visible to later ones as `{action1.id}` etc.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import httpx

from hubforce.connectors.records import AssociationLink, RemoteRecord, WriteResult
from hubforce.errors import Category
from hubforce.workflows.model import (
    Action,
    HubSpotUpdate,
    OutboundWebhook,
    SalesforceCreate,
    SalesforceUpdate,
    SlackPost,
)
from hubforce.workflows.runs import ActionResult
from hubforce.workflows.templates import render, render_values


class SalesforceWriter(Protocol):
    """The part of `SalesforceClient` actions use."""

    async def create(
        self,
        sobject: str,
        records: Sequence[Mapping[str, Any]],
        *,
        auto_assign: bool | str | None = None,
    ) -> list[WriteResult]:
        """Create records."""

    async def update(
        self,
        sobject: str,
        updates: Sequence[tuple[str, Mapping[str, Any]]],
        *,
        auto_assign: bool | str | None = None,
    ) -> list[WriteResult]:
        """Update records."""

    async def find_by(
        self,
        sobject: str,
        field: str,
        values: Sequence[Any],
        fields: Sequence[str],
        *,
        where: str | None = None,
    ) -> list[RemoteRecord]:
        """Records whose `field` is one of `values`."""


class HubSpotWriter(Protocol):
    """The part of `HubSpotClient` actions use."""

    async def update(
        self, object_type: str, updates: Sequence[tuple[str, Mapping[str, Any]]]
    ) -> list[WriteResult]:
        """Update records."""

    async def read_associations(
        self, from_type: str, to_type: str, ids: Sequence[str]
    ) -> dict[str, list[AssociationLink]]:
        """Associations of each id to `to_type`."""


class ActionError(RuntimeError):
    """An action that cannot run as configured (e.g. no Slack webhook URL)."""


def _from_write(name: str, result: WriteResult) -> ActionResult:
    if result.ok:
        return ActionResult(name, True, {"id": result.id, "created": result.created})
    failure = result.failure
    message = f"{failure.api_code}: {failure.message}" if failure else "refused"
    category = failure.category.value if failure else Category.UNKNOWN.value
    return ActionResult(name, False, {"id": result.id}, message, category)


async def _update_associated(
    name: str, hs: HubSpotWriter, action: HubSpotUpdate, record_id: str, values: dict[str, Any]
) -> ActionResult:
    """Update every record of the `associated` types linked to `record_id` (none is no error:
    a deal without contacts is common)."""
    updated: dict[str, list[str]] = {}
    for to_type in action.associated:
        links = await hs.read_associations(action.object_type, to_type, [record_id])
        ids = list(dict.fromkeys(link.to_id for link in links.get(record_id, [])))
        if not ids:
            continue
        results = await hs.update(to_type, [(target, values) for target in ids])
        refused = [result for result in results if not result.ok]
        if refused:
            failed = _from_write(name, refused[0])
            failed.detail = {"updated": updated, "refused": [r.id for r in refused]}
            return failed
        updated[to_type] = ids
    return ActionResult(name, True, {"updated": updated})


def idempotent(action: Action) -> bool:
    """True if running `action` again after it may already have run changes nothing more:
    a create that finds its record by `match_on` first, and updates (they set the same values
    again). A Slack post, a webhook and a plain create would repeat their effect."""
    if isinstance(action, SalesforceCreate):
        return bool(action.match_on)
    return isinstance(action, (SalesforceUpdate, HubSpotUpdate))


def _hook_category(status: int) -> str:
    """Why a hook refused a POST: 429 and 5xx pass by themselves, the rest needs a fix."""
    if status == 429:
        return Category.RATE_LIMIT.value
    if status >= 500 or status == 408:
        return Category.TRANSIENT.value
    return Category.UNKNOWN.value


class ActionRunner:
    """Runs actions against the configured systems."""

    def __init__(
        self,
        *,
        salesforce: SalesforceWriter | None = None,
        hubspot: HubSpotWriter | None = None,
        http: httpx.AsyncClient | None = None,
        slack_webhook_url: str | None = None,
    ) -> None:
        self.salesforce = salesforce
        self.hubspot = hubspot
        self.http = http
        self.slack_webhook_url = slack_webhook_url

    async def run(self, index: int, action: Action, record: Mapping[str, Any]) -> ActionResult:
        """Run one action; `index` names it in results (`action1`, ...)."""
        name = f"action{index}:{action.type}"
        if isinstance(action, SalesforceCreate):
            sf = self._need(self.salesforce, "Salesforce")
            values = render_values(action.values, record)
            key = values.get(action.match_on) if action.match_on else None
            if key:
                existing = await sf.find_by(action.sobject, action.match_on, [key], ["Id"])
                if existing:
                    target = existing[0].id
                    (result,) = await sf.update(
                        action.sobject, [(target, values)], auto_assign=action.assignment
                    )
                    outcome = _from_write(name, result)
                    outcome.detail.update({"id": target, "created": False, "matched": True})
                    return outcome
            (result,) = await sf.create(action.sobject, [values], auto_assign=action.assignment)
            return _from_write(name, result)
        if isinstance(action, SalesforceUpdate):
            sf = self._need(self.salesforce, "Salesforce")
            record_id = render(action.record_id, record)
            if not record_id:
                return ActionResult(name, False, error="record_id rendered empty")
            values = render_values(action.values, record)
            (result,) = await sf.update(
                action.sobject, [(record_id, values)], auto_assign=action.assignment
            )
            return _from_write(name, result)
        if isinstance(action, HubSpotUpdate):
            hs = self._need(self.hubspot, "HubSpot")
            record_id = render(action.record_id, record)
            if not record_id:
                return ActionResult(name, False, error="record_id rendered empty")
            values = render_values(action.values, record)
            if action.associated:
                return await _update_associated(name, hs, action, record_id, values)
            (result,) = await hs.update(action.object_type, [(record_id, values)])
            return _from_write(name, result)
        if isinstance(action, SlackPost):
            url = self.slack_webhook_url
            if not url:
                raise ActionError("slack action needs alerts.slack_webhook_url in the config")
            body = {"channel": action.channel, "text": render(action.text, record)}
            return await self._post(name, url, body)
        if isinstance(action, OutboundWebhook):
            return await self._post(name, action.url, render_values(action.body, record))
        raise ActionError(f"unknown action {action!r}")

    @staticmethod
    def _need(client: Any, system: str) -> Any:
        if client is None:
            raise ActionError(f"{system} is not connected in this server")
        return client

    async def _post(self, name: str, url: str, body: dict[str, Any]) -> ActionResult:
        http = self._need(self.http, "HTTP")
        try:
            response = await http.post(url, json=body, timeout=10.0)
        except httpx.HTTPError as exc:  # unreachable or too slow: a later attempt may pass
            error = f"{type(exc).__name__} posting to the hook"
            return ActionResult(name, False, error=error, category=Category.TRANSIENT.value)
        status = response.status_code
        if 200 <= status < 300:
            return ActionResult(name, True, {"status": status})
        return ActionResult(
            name, False, {"status": status}, f"hook answered HTTP {status}", _hook_category(status)
        )
