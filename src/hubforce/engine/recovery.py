"""Crash recovery: settle create intents left pending by an interrupted cycle.

An intent is written (and committed) before its create is sent. If the process died before
the bookkeeping, the create may or may not have landed. Before any new create, each pending
intent is looked up on its target side by its idempotency key (the HubSpot id in an external-id
field, or the e-mail / name): found -> the link is made (snapshot None, so the next plan
compares both sides field by field); not found -> the intent is closed as failed and the
source record, whose cursor never moved, is planned again.
"""

from __future__ import annotations

import logging

from hubforce.engine.context import PairReport, SyncContext
from hubforce.engine.reading import read_fields
from hubforce.store import Intent
from hubforce.sync.fields import PairMapping
from hubforce.sync.match import normalise_email, normalise_name
from hubforce.sync.model import Link, Side

log = logging.getLogger("hubforce.engine.recovery")


def _split(key: str) -> tuple[str, str] | None:
    field, sep, value = key.partition("=")
    return (field, value) if sep and field != "source" else None


def _norm(field: str, value: object) -> str | None:
    if value is None:
        return None
    return normalise_email(value) if "mail" in field.lower() else normalise_name(value)


async def recover_intents(ctx: SyncContext, mapping: PairMapping, report: PairReport) -> None:
    """Resolve every pending intent of `mapping`'s pair (one lookup call per page of keys)."""
    pending = ctx.store.intents.unresolved(mapping.name)
    if not pending:
        return
    groups: dict[tuple[Side, str, str], list[tuple[Intent, str]]] = {}
    unsearchable: list[Intent] = []
    for intent in pending:
        parsed = _split(intent.idempotency_key)
        if parsed is None:
            unsearchable.append(intent)
            continue
        target_type = intent.target_type or (
            mapping.hubspot_type if intent.target_side is Side.HUBSPOT else mapping.create_as or ""
        )
        groups.setdefault((intent.target_side, target_type, parsed[0]), []).append(
            (intent, parsed[1])
        )
    links: list[Link] = []
    created: dict[Side, dict[str, str]] = {Side.HUBSPOT: {}, Side.SALESFORCE: {}}
    failed: dict[Side, list[str]] = {Side.HUBSPOT: [], Side.SALESFORCE: []}
    for (side, target_type, field), items in groups.items():
        values = [value for _, value in items]
        fields = read_fields(mapping, side, target_type)
        if side is Side.HUBSPOT and field == "email":
            # Batch read by the unique e-mail, not search: search lags behind recent creates.
            by_email = await ctx.hubspot.read(target_type, values, fields, id_property="email")
            found = list({r.id: r for r in by_email.values()}.values())
        elif side is Side.HUBSPOT:
            found = await ctx.hubspot.find_by(target_type, field, values, fields)
        else:
            found = await ctx.salesforce.find_by(target_type, field, values, fields)
        by_key: dict[str, str] = {}
        for record in sorted(found, key=lambda r: (len(r.id), r.id)):
            key = _norm(field, record.values.get(field))
            if key is not None:
                by_key.setdefault(key, record.id)
        for intent, value in items:
            target_id = by_key.get(_norm(field, value) or "")
            if target_id is None:
                failed[side].append(intent.source_id)
                continue
            created[side][intent.source_id] = target_id
            if side is Side.SALESFORCE:
                links.append(Link(mapping.name, intent.source_id, target_type, target_id))
            else:
                sf_type = intent.source_type or mapping.salesforce_types[0]
                links.append(Link(mapping.name, target_id, sf_type, intent.source_id))
            log.info(
                "%s: recovered create of %s on %s as %s",
                mapping.name,
                intent.source_id,
                side,
                target_id,
            )
    for intent in unsearchable:
        failed[intent.target_side].append(intent.source_id)
    with ctx.store.transaction() as uow:
        hs_known = uow.links.get_many(mapping.name, Side.HUBSPOT, [lk.hubspot_id for lk in links])
        sf_known = uow.links.get_many(
            mapping.name, Side.SALESFORCE, [lk.salesforce_id for lk in links]
        )
        fresh = [
            lk for lk in links if lk.hubspot_id not in hs_known and lk.salesforce_id not in sf_known
        ]
        uow.links.upsert_many(fresh)
        for side in (Side.HUBSPOT, Side.SALESFORCE):
            uow.intents.resolve_created(mapping.name, str(side), created[side])
            uow.intents.resolve_failed(mapping.name, str(side), failed[side])
    report.recovered += len(fresh)
