"""Following records that change identity: Lead conversion and merges on either side.

Runs before a round's links are loaded, so the planner sees links that already point at the
surviving records:

- a converted Lead (`IsConverted`, `ConvertedContactId`) moves its link to the Contact it became
  (the Account it became is matched by the companies pair, which runs first);
- a Salesforce record deleted with a `MasterRecordId` was merged: its link moves to the master;
- a HubSpot record listing `hs_merged_object_ids` absorbed those ids: their links move to it.

When the survivor is already linked, the store keeps that link and drops the other one.
Deletes that are not merges are left to the planner and the pair's delete policy.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from hubforce.connectors.records import RemoteRecord
from hubforce.engine.context import PairReport, SyncContext
from hubforce.store import SalesforceMove
from hubforce.sync.fields import PairMapping
from hubforce.sync.model import Side

log = logging.getLogger("hubforce.engine.identity")


def follow_identity(
    ctx: SyncContext,
    mapping: PairMapping,
    hubspot: Sequence[RemoteRecord],
    salesforce: Sequence[RemoteRecord],
    report: PairReport,
) -> set[str]:
    """Re-key links for conversions and merges; return the Salesforce ids that were replaced
    (their records must not be planned: the survivor carries the link now)."""
    moves: list[SalesforceMove] = []
    for record in salesforce:
        values = record.values
        if record.object_type == "Lead" and values.get("IsConverted"):
            contact = values.get("ConvertedContactId")
            if contact:
                moves.append(SalesforceMove(record.id, "Contact", str(contact)))
        master = values.get("MasterRecordId")
        if record.deleted and master:
            moves.append(SalesforceMove(record.id, record.object_type, str(master)))
    replaced: set[str] = set()
    if moves and not ctx.options.dry_run:
        linked = ctx.store.links.get_many(mapping.name, Side.SALESFORCE, [m.old_id for m in moves])
        wanted = [m for m in moves if m.old_id in linked]
        if wanted:
            outcome = ctx.store.links.relink_salesforce(mapping.name, wanted)
            report.relinked += len(outcome.moved)
            for link in outcome.moved:
                log.info(
                    "%s: relinked HubSpot %s to %s %s",
                    mapping.name,
                    link.hubspot_id,
                    link.salesforce_type,
                    link.salesforce_id,
                )
    replaced.update(m.old_id for m in moves)
    merges: dict[str, str] = {}
    for record in hubspot:
        raw = record.values.get("hs_merged_object_ids") or ""
        for old in str(raw).split(";"):
            if old and old != record.id:
                merges[old] = record.id
    if merges and not ctx.options.dry_run:
        linked = ctx.store.links.get_many(mapping.name, Side.HUBSPOT, list(merges))
        wanted_hs = {old: new for old, new in merges.items() if old in linked}
        if wanted_hs:
            outcome = ctx.store.links.relink_hubspot(mapping.name, wanted_hs)
            report.relinked += len(outcome.moved)
    return replaced
