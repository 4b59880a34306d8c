"""Targeted sync: the given record ids of one side, synced now, without touching cursors.

A webhook or a stream of Salesforce edits names the records that changed; reading them by id
(one batch call per type) and running the cycle's round on just those costs a fraction of a
cursor read. Cursors stay where they are, so the next cursor cycle reads these records again;
the snapshots recorded here make that re-read write nothing.

An id that is not found (HubSpot archived, Salesforce deleted) is a delete when it is linked,
and is reported as "not found" otherwise; a merged-away id stands for its survivor.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from hubforce.connectors.records import RemoteRecord
from hubforce.connectors.salesforce import soql
from hubforce.connectors.salesforce.client import MERGEABLE
from hubforce.connectors.salesforce.wire import SYSTEM_FIELDS, record_from_wire
from hubforce.engine.context import CycleReport, PairReport, SyncContext
from hubforce.engine.cycle import run_round
from hubforce.engine.lookup import LinkLookup
from hubforce.engine.reading import read_fields
from hubforce.engine.recovery import recover_intents
from hubforce.errors import HubforceError
from hubforce.store import RunStatus
from hubforce.sync.fields import PairMapping
from hubforce.sync.model import Side

log = logging.getLogger("hubforce.engine.targeted")

#: Salesforce's fixed key prefixes of the standard objects a pair can hold.
KEY_PREFIXES = {"001": "Account", "003": "Contact", "00Q": "Lead", "006": "Opportunity"}
NOT_FOUND = "not found"
UNKNOWN_TYPE = "unknown object type"


async def sync_records(
    ctx: SyncContext,
    pair: str,
    side: Side,
    ids: Sequence[str],
    *,
    object_type: str | None = None,
) -> CycleReport:
    """Sync the records `ids` of `side` in `pair` (read by id; cursors do not move)."""
    mapping = _targetable(ctx, pair, side, object_type)
    wanted = [i for i in dict.fromkeys(str(i).strip() for i in ids) if i]
    dry = ctx.options.dry_run
    store = ctx.store
    run_id = None if dry else store.runs.start("targeted", now=ctx.options.clock())
    report = CycleReport(run_id, dry_run=dry)
    pair_report = PairReport(pair)
    report.pairs.append(pair_report)
    try:
        if not dry:
            await recover_intents(ctx, mapping, pair_report)
        records = await _read(ctx, mapping, side, wanted, object_type, pair_report)
        if records:
            hs = records if side is Side.HUBSPOT else []
            sf = records if side is Side.SALESFORCE else []
            extras: dict[Side, list[RemoteRecord]] = {Side.HUBSPOT: [], Side.SALESFORCE: []}
            lookup = LinkLookup(store)
            await run_round(ctx, mapping, None, hs, sf, extras, run_id, lookup, pair_report)
    except Exception as exc:
        if run_id is not None:
            message = (
                f"{pair}: {exc}"
                if isinstance(exc, HubforceError)
                else f"{pair}: interrupted by {type(exc).__name__}"
            )
            store.runs.finish(run_id, RunStatus.FAILED, counts=report.counts(), message=message)
        raise
    if run_id is not None:
        store.runs.finish(run_id, RunStatus.SUCCEEDED, counts=report.counts())
    return report


def _targetable(ctx: SyncContext, pair: str, side: Side, object_type: str | None) -> PairMapping:
    """The pair's mapping, or a clear error when a targeted sync cannot apply."""
    if pair == "owners":
        raise HubforceError(
            "owners are not synced by record id",
            hint="owners sync in every cycle; run `hubforce sync` for them",
        )
    mapping = ctx.mappings.get(pair)
    if mapping is None:
        raise HubforceError(
            f"unknown pair {pair!r}", hint=f"enabled pairs: {', '.join(sorted(ctx.mappings))}"
        )
    if object_type is None:
        return mapping
    known = (mapping.hubspot_type,) if side is Side.HUBSPOT else mapping.salesforce_types
    if object_type not in known:
        raise HubforceError(
            f"{side} {object_type!r} is not part of pair {pair!r}",
            hint=f"the pair's {side} types: {', '.join(known)}",
        )
    return mapping


async def _read(
    ctx: SyncContext,
    mapping: PairMapping,
    side: Side,
    ids: list[str],
    object_type: str | None,
    report: PairReport,
) -> list[RemoteRecord]:
    """The current records of `ids` (deletes for linked ids no longer found)."""
    out: dict[str, RemoteRecord] = {}
    groups = _by_type(mapping, side, ids, object_type, report)
    for kind, chunk in groups.items():
        fields = read_fields(mapping, side, kind)
        if side is Side.HUBSPOT:
            found = await ctx.hubspot.read(kind, chunk, fields)
        else:
            found = await ctx.salesforce.read(kind, chunk, fields)
            missing = [i for i in chunk if i not in found]
            if missing:
                found.update(await _recycled(ctx, kind, missing, fields))
        report.bump(report.read, f"{side}:{kind}", len(found))
        missing = [i for i in chunk if i not in found]
        links = ctx.store.links.get_many(mapping.name, str(side), missing, include_deleted=False)
        for record_id in missing:
            if record_id in links:
                found[record_id] = _gone(record_id, kind, ctx.options.clock())
            else:
                report.bump(report.skipped, NOT_FOUND)
                log.warning("targeted sync: %s %s %s not found", side, kind, record_id)
        for record in found.values():
            out.setdefault(record.id, record)
    return list(out.values())


def _by_type(
    mapping: PairMapping,
    side: Side,
    ids: list[str],
    object_type: str | None,
    report: PairReport,
) -> dict[str, list[str]]:
    """Ids grouped by vendor type: HubSpot's one type; Salesforce's from the key prefix."""
    if side is Side.HUBSPOT:
        return {mapping.hubspot_type: ids} if ids else {}
    types = mapping.salesforce_types
    groups: dict[str, list[str]] = {}
    for record_id in ids:
        kind = object_type or KEY_PREFIXES.get(record_id[:3])
        if kind not in types and len(types) == 1 and object_type is None:
            kind = types[0]  # a custom object: its prefix is not fixed
        if kind is None or kind not in types:
            report.bump(report.skipped, UNKNOWN_TYPE)
            log.warning("targeted sync: no %s type of %s for id %s", side, mapping.name, record_id)
            continue
        groups.setdefault(kind, []).append(record_id)
    return groups


async def _recycled(
    ctx: SyncContext, sobject: str, ids: list[str], fields: list[str]
) -> dict[str, RemoteRecord]:
    """Deleted or merged-away Salesforce records (queryAll by id), keyed by requested id."""
    extra = ["IsDeleted", *(["MasterRecordId"] if sobject in MERGEABLE else [])]
    out: dict[str, RemoteRecord] = {}
    for chunk in soql.chunk_values(ids):
        statement = soql.select(
            sobject,
            list(dict.fromkeys([*SYSTEM_FIELDS, *extra, *fields])),
            where=soql.in_clause("Id", chunk),
        )
        async for raw in ctx.salesforce.query(statement, include_deleted=True):
            for obj in raw:
                record = record_from_wire(obj, sobject)
                for key in (record.id, record.id[:15]):
                    if key in chunk:
                        out[key] = record
    return out


def _gone(record_id: str, object_type: str, now: int) -> RemoteRecord:
    """A linked record that no longer exists: planned as a delete."""
    return RemoteRecord(record_id, {}, now, object_type, deleted=True)
