"""Matching before creating: link unlinked records to their twins on the other side.

First within the round (both sides' unlinked records were read anyway, so it costs nothing),
then on the other side by key, one `find_by` call per page of keys and object type, key kind
by key kind (external id, then the pair's `match_on`: email, or domain then name). Which
candidate wins is `hubforce.sync.match`'s deterministic choice; several candidates are logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from hubforce.aio import cancel_and_wait
from hubforce.connectors.records import RemoteRecord
from hubforce.engine.context import PairReport, SyncContext
from hubforce.engine.reading import match_field, read_fields
from hubforce.sync.fields import PairMapping
from hubforce.sync.match import EXTERNAL_ID, Candidate, MatchResult, match_all, match_keys
from hubforce.sync.model import Link, RecordRef, Side

log = logging.getLogger("hubforce.engine.matching")


@dataclass(slots=True)
class MatchOutcome:
    """New links (snapshot None), twins fetched from the other side, and sources to leave alone."""

    links: list[Link] = field(default_factory=list)
    fetched: dict[Side, list[RemoteRecord]] = field(
        default_factory=lambda: {Side.HUBSPOT: [], Side.SALESFORCE: []}
    )
    skipped: dict[str, str] = field(default_factory=dict)  # record id -> why


def key_kinds(mapping: PairMapping) -> list[str]:
    """Key kinds in the order they are tried."""
    kinds = [EXTERNAL_ID] if mapping.external_id else []
    return kinds + [k for k in mapping.match_on if k != EXTERNAL_ID]


def keys_of(mapping: PairMapping, side: Side, record: RemoteRecord) -> dict[str, str]:
    """Normalised match keys of one record."""
    fields: dict[str, str] = {}
    for kind in key_kinds(mapping):
        name = match_field(mapping, kind, side)
        if name is not None:
            fields[kind] = name
    keys = match_keys(record.values, fields)
    if side is Side.HUBSPOT and mapping.external_id:
        keys[EXTERNAL_ID] = record.id
    return keys


def candidate(mapping: PairMapping, side: Side, record: RemoteRecord) -> Candidate:
    """A record seen as a possible twin."""
    converted = bool(record.values.get("IsConverted")) or record.deleted
    return Candidate(
        RecordRef(side, record.object_type, record.id),
        keys_of(mapping, side, record),
        record.modified_at,
        converted,
    )


async def match_unlinked(
    ctx: SyncContext,
    mapping: PairMapping,
    unlinked: dict[Side, list[RemoteRecord]],
    report: PairReport,
) -> MatchOutcome:
    """Match the round's unlinked records, within the round first, then by remote lookup."""
    outcome = MatchOutcome()
    sources = {
        side: [r for r in records if not r.deleted and not r.values.get("IsConverted")]
        for side, records in unlinked.items()
    }
    taken: set[str] = set()
    # 1. HubSpot sources against the round's unlinked Salesforce records.
    local = [candidate(mapping, Side.SALESFORCE, r) for r in sources[Side.SALESFORCE]]
    remaining_hs = _apply(
        mapping, sources[Side.HUBSPOT], Side.HUBSPOT, local, taken, outcome, report
    )
    remaining_sf = [r for r in sources[Side.SALESFORCE] if r.id not in taken]
    sf_kinds = [kind for kind in key_kinds(mapping) if kind != EXTERNAL_ID]
    # The first HubSpot lookup of step 3 runs while step 2 looks in Salesforce (independent
    # APIs and rate windows). It may ask for a few keys step 2 then settles; its candidates
    # are filtered by what step 2 took, so the outcome is the same as one after the other.
    ahead: asyncio.Future[list[RemoteRecord]] | None = None
    if remaining_sf and sf_kinds:
        ahead = asyncio.ensure_future(_find(ctx, mapping, Side.HUBSPOT, sf_kinds[0], remaining_sf))
    try:
        # 2. Still unmatched HubSpot records: look them up in Salesforce.
        for kind in key_kinds(mapping):
            if not remaining_hs:
                break
            found = await _find(ctx, mapping, Side.SALESFORCE, kind, remaining_hs)
            usable = _unlinked_only(ctx, mapping, Side.SALESFORCE, found, taken)
            remaining_hs = _apply(
                mapping,
                remaining_hs,
                Side.HUBSPOT,
                [candidate(mapping, Side.SALESFORCE, r) for r in usable],
                taken,
                outcome,
                report,
                fetched=usable,
            )
        remaining_sf = [r for r in remaining_sf if r.id not in taken]
        # 3. Still unmatched Salesforce records: look them up in HubSpot.
        for kind in sf_kinds:
            if not remaining_sf:
                break
            if ahead is not None:
                found, ahead = await ahead, None
            else:
                found = await _find(ctx, mapping, Side.HUBSPOT, kind, remaining_sf)
            usable = _unlinked_only(ctx, mapping, Side.HUBSPOT, found, taken)
            if kind == "email":
                _skip_linked_twins(mapping, remaining_sf, found, usable, outcome)
                remaining_sf = [r for r in remaining_sf if r.id not in outcome.skipped]
            remaining_sf = _apply(
                mapping,
                remaining_sf,
                Side.SALESFORCE,
                [candidate(mapping, Side.HUBSPOT, r) for r in usable],
                taken,
                outcome,
                report,
                fetched=usable,
            )
    finally:
        if ahead is not None:  # an error, or nothing left to look up after step 2
            await cancel_and_wait(ahead)
    _one_per_email(mapping, remaining_sf, outcome)
    return outcome


def _one_per_email(
    mapping: PairMapping, sources: Sequence[RemoteRecord], outcome: MatchOutcome
) -> None:
    """Salesforce records left to create in HubSpot that share an e-mail (a Lead and a
    Contact of one person): HubSpot e-mails are unique, so only the preferred one (Contact over
    Lead, then most recent, then lowest id) is created; the others are logged and left alone."""
    groups: dict[str, list[RemoteRecord]] = {}
    for record in sources:
        key = keys_of(mapping, Side.SALESFORCE, record).get("email")
        if key is not None:
            groups.setdefault(key, []).append(record)
    for key, records in groups.items():
        if len(records) < 2:
            continue
        ranked = sorted(
            records,
            key=lambda r: (r.object_type != "Contact", -r.modified_at, len(r.id), r.id),
        )
        for record in ranked[1:]:
            why = f"e-mail {key} is shared with {ranked[0].object_type} {ranked[0].id}"
            outcome.skipped[record.id] = why
            log.info("%s: %s %s not synced: %s", mapping.name, record.object_type, record.id, why)


def _apply(
    mapping: PairMapping,
    sources: Sequence[RemoteRecord],
    side: Side,
    candidates: list[Candidate],
    taken: set[str],
    outcome: MatchOutcome,
    report: PairReport,
    *,
    fetched: Sequence[RemoteRecord] = (),
) -> list[RemoteRecord]:
    """Match `sources` (on `side`) to `candidates`; record links; return the unmatched."""
    if not sources or not candidates:
        return list(sources)
    by_id = {r.id: r for r in sources}
    fetched_by_id = {r.id: r for r in fetched}
    results = match_all(
        [(RecordRef(side, r.object_type, r.id), keys_of(mapping, side, r)) for r in sources],
        candidates,
        match_on=key_kinds(mapping),
        taken=taken,
    )
    unmatched: list[RemoteRecord] = []
    for result in results:
        if result.chosen is None:
            unmatched.append(by_id[result.source.id])
            continue
        _link(mapping, result, outcome)
        taken.add(result.chosen.ref.id)
        taken.add(result.source.id)
        twin = fetched_by_id.get(result.chosen.ref.id)
        if twin is not None:
            outcome.fetched[result.chosen.ref.side].append(twin)
        report.matched += 1
        if result.others:
            log.info("%s: %s", mapping.name, result.reason)
            report.planned.append(f"match {result.source.id}: {result.reason}")
    return unmatched


def _link(mapping: PairMapping, result: MatchResult, outcome: MatchOutcome) -> None:
    assert result.chosen is not None
    a, b = result.source, result.chosen.ref
    hs, sf = (a, b) if a.side is Side.HUBSPOT else (b, a)
    outcome.links.append(Link(mapping.name, hs.id, sf.object_type, sf.id))


async def _find(
    ctx: SyncContext,
    mapping: PairMapping,
    target: Side,
    kind: str,
    sources: Sequence[RemoteRecord],
) -> list[RemoteRecord]:
    """Records on `target` carrying any of the sources' `kind` keys (one call per page)."""
    values = sorted({k for r in sources if (k := keys_of(mapping, target.other, r).get(kind))})
    if not values:
        return []
    if target is Side.HUBSPOT:
        name = match_field(mapping, kind, Side.HUBSPOT)
        if name is None:
            return []
        object_type = mapping.hubspot_type
        fields = read_fields(mapping, Side.HUBSPOT, object_type)
        return await ctx.hubspot.find_by(object_type, name, values, fields)
    found: list[RemoteRecord] = []
    for object_type in mapping.salesforce_types:
        name = match_field(mapping, kind, Side.SALESFORCE)
        if name is None or (kind == "domain" and object_type != "Account"):
            continue
        wanted = _domain_variants(values) if kind == "domain" else values
        fields = read_fields(mapping, Side.SALESFORCE, object_type)
        found += await ctx.salesforce.find_by(object_type, name, wanted, fields)
    return found


def _domain_variants(domains: Sequence[str]) -> list[str]:
    """The ways a website field may spell a domain (`find_by` compares whole values)."""
    out: list[str] = []
    for domain in domains:
        for prefix in ("", "www.", "http://", "https://", "http://www.", "https://www."):
            out += [prefix + domain, prefix + domain + "/"]
    return out


def _unlinked_only(
    ctx: SyncContext,
    mapping: PairMapping,
    side: Side,
    records: list[RemoteRecord],
    taken: set[str],
) -> list[RemoteRecord]:
    """Candidates neither linked in the store nor matched earlier in this round."""
    if not records:
        return []
    linked = ctx.store.links.get_many(mapping.name, side, [r.id for r in records])
    return [r for r in records if r.id not in linked and r.id not in taken]


def _skip_linked_twins(
    mapping: PairMapping,
    sources: Sequence[RemoteRecord],
    found: Sequence[RemoteRecord],
    usable: Sequence[RemoteRecord],
    outcome: MatchOutcome,
) -> None:
    """A person whose e-mail already belongs to a linked HubSpot contact is not re-created
    (HubSpot e-mails are unique): e.g. a Lead and a Contact sharing one address."""
    free = {r.id for r in usable}
    owners: dict[str, str] = {}
    for record in found:
        key = keys_of(mapping, Side.HUBSPOT, record).get("email")
        if key is not None and record.id not in free:
            owners[key] = record.id
    for source in sources:
        key = keys_of(mapping, Side.SALESFORCE, source).get("email")
        if (
            key is not None
            and key in owners
            and not any(keys_of(mapping, Side.HUBSPOT, r).get("email") == key for r in usable)
        ):
            why = f"e-mail {key} belongs to HubSpot contact {owners[key]}, already linked"
            outcome.skipped[source.id] = why
            log.info("%s: %s %s not synced: %s", mapping.name, source.object_type, source.id, why)
