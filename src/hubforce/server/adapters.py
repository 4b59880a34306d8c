"""Adapters from the server's seams to the engine and the connectors.

- `CycleSyncTarget`: a targeted sync of the changed ids through the engine's
  `sync_records` (read by id, cursors untouched; the next cursor cycle writes nothing).
- `ClientRecordReader`: a workflow's record read through the connectors.
- `HubSpotFormSource`: form submissions (and the contact of a submitted e-mail) for form
  triggers, read through the HubSpot client's session, so its governor paces them.
- `pair_index`: (side, object type) -> pair name, from the compiled mappings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from hubforce.connectors.hubspot.client import HubSpotClient
from hubforce.connectors.salesforce.client import SalesforceClient
from hubforce.engine.context import CycleReport, SyncContext
from hubforce.engine.targeted import sync_records
from hubforce.store import Store
from hubforce.sync.fields import PairMapping
from hubforce.sync.model import Side
from hubforce.workflows.forms import (
    PAGE_SIZE,
    SUBMISSIONS_PATH,
    SubmissionPage,
    SubmissionsShapeError,
    parse_submission_page,
)


def pair_index(mappings: Mapping[str, PairMapping]) -> dict[tuple[Side, str], str]:
    """Which pair a change to (side, object type) belongs to."""
    index: dict[tuple[Side, str], str] = {}
    for name, mapping in mappings.items():
        if name == "owners":
            continue
        index[(Side.HUBSPOT, mapping.hubspot_type)] = name
        for sobject in mapping.salesforce_types:
            index[(Side.SALESFORCE, sobject)] = name
    return index


class CycleSyncTarget:
    """Targeted syncs of given records on a long-lived `SyncContext`."""

    def __init__(self, ctx: SyncContext) -> None:
        self.ctx = ctx
        self.reports: list[CycleReport] = []

    async def sync_records(self, pair: str, side: Side, ids: Sequence[str]) -> None:
        """Sync just the records `ids` of `side` in `pair` (read by id)."""
        report = await sync_records(self.ctx, pair, side, ids)
        self.reports.append(report)
        del self.reports[:-100]


class ClientRecordReader:
    """Reads one record through HubSpotClient / SalesforceClient.

    With a store and the pair index, the record also carries its linked twin's id as
    `hubspot_id` / `salesforce_id`, so a Salesforce-triggered workflow can update the HubSpot
    record (`record_id: "{hubspot_id}"`) and the other way round.
    """

    def __init__(
        self,
        hubspot: HubSpotClient | None,
        salesforce: SalesforceClient | None,
        *,
        store: Store | None = None,
        pairs: Mapping[tuple[Side, str], str] | None = None,
    ) -> None:
        self.hubspot = hubspot
        self.salesforce = salesforce
        self.store = store
        self.pairs = dict(pairs or {})

    async def read_record(
        self, side: Side, object_type: str, record_id: str, fields: Sequence[str]
    ) -> dict[str, Any] | None:
        """The record's values, or None when it does not exist (any more)."""
        if side is Side.HUBSPOT:
            if self.hubspot is None:
                raise RuntimeError("HubSpot is not connected")
            found = await self.hubspot.read(object_type, [record_id], list(fields))
        else:
            if self.salesforce is None:
                raise RuntimeError("Salesforce is not connected")
            found = await self.salesforce.read(object_type, [record_id], list(fields) or ["Id"])
        record = found.get(record_id)
        if record is None:
            return None
        values = dict(record.values)
        pair = self.pairs.get((side, object_type))
        if self.store is not None and pair is not None:
            link = self.store.links.get(pair, str(side), record_id)
            if link is not None:
                values["hubspot_id"] = link.hubspot_id
                values["salesforce_id"] = link.salesforce_id
        return values


class HubSpotFormSource:
    """`SubmissionSource` over HubSpotClient: the submissions API and contacts by e-mail."""

    def __init__(self, hubspot: HubSpotClient | None) -> None:
        self.hubspot = hubspot

    def _client(self) -> HubSpotClient:
        if self.hubspot is None:
            raise RuntimeError("HubSpot is not connected")
        return self.hubspot

    async def submissions(self, form_guid: str, after: str | None = None) -> SubmissionPage:
        """One page (at most 50) of the form's submissions, newest first."""
        params: dict[str, Any] = {"limit": PAGE_SIZE}
        if after is not None:
            params["after"] = after
        path = SUBMISSIONS_PATH.format(form_guid=quote(form_guid, safe=""))
        response = await self._client().session.request("GET", path, kind="forms", params=params)
        try:
            body = response.json()
        except ValueError:
            raise SubmissionsShapeError(form_guid, "the body is not JSON") from None
        return parse_submission_page(form_guid, body)

    async def contact_id(self, email: str) -> str | None:
        """The contact with this e-mail (batch read by `idProperty=email`: no search lag)."""
        found = await self._client().read("contacts", [email], ["email"], id_property="email")
        record = found.get(email)
        return None if record is None else record.id
