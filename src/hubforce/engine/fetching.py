"""Reads by id beyond the change stream: linked twins, HubSpot associations, parked failures.

Each costs one call per batch (HubSpot 100 ids, Salesforce a few hundred) and only happens
when the plan needs it: a twin whose side was not read to the end or whose link was never
synced, an association whose Salesforce twin has the lookup field, a failure due for retry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from hubforce.connectors.records import RemoteRecord
from hubforce.engine.context import SyncContext
from hubforce.engine.reading import read_fields
from hubforce.sync.fields import ASSOCIATION_PREFIX, PairMapping
from hubforce.sync.model import Change, Link, Rule, Side
from hubforce.sync.operations import Plan


async def read_retries(
    ctx: SyncContext, mapping: PairMapping, now: int
) -> dict[Side, list[RemoteRecord]]:
    """The source records of failures due for another attempt (transient ones whose backoff
    has elapsed, and those a user asked to retry): read by id, one call per batch, and fed to
    the first round like fresh changes. A failure's cursor moved on long ago; this is how a
    parked record comes back."""
    due = ctx.store.failures.retryable(now, pair=mapping.name, limit=ctx.options.round_size)
    hs_ids: list[str] = []
    sf_ids: dict[str, list[str]] = {}
    for failure in due:
        if failure.side is Side.SALESFORCE and failure.hubspot_id:
            hs_ids.append(failure.hubspot_id)
        elif failure.salesforce_id and failure.salesforce_type:
            sf_ids.setdefault(failure.salesforce_type, []).append(failure.salesforce_id)
    out: dict[Side, list[RemoteRecord]] = {Side.HUBSPOT: [], Side.SALESFORCE: []}
    if hs_ids:
        kind = mapping.hubspot_type
        found = await ctx.hubspot.read(kind, hs_ids, read_fields(mapping, Side.HUBSPOT, kind))
        out[Side.HUBSPOT] = list({r.id: r for r in found.values()}.values())
    for kind, ids in sf_ids.items():
        if kind not in mapping.salesforce_types:
            continue
        found = await ctx.salesforce.read(kind, ids, read_fields(mapping, Side.SALESFORCE, kind))
        out[Side.SALESFORCE] += list({r.id: r for r in found.values()}.values())
    return out


class SnapshotCheck:
    """Whether a linked record still holds its side's image in the link's snapshot: every
    mapped value read equals the image (the planner's own test of a change). Such a record
    has nothing to propagate, so its twin need not be read for it; a twin's own change comes
    with the twin's side's stream."""

    def __init__(self, mapping: PairMapping, changes: Iterable[Change]) -> None:
        self.mapping = mapping
        self._given = changes
        self._changes: dict[tuple[Side, str], Change] | None = None  # indexed when first asked
        self._keys: dict[str, frozenset[str]] = {}

    def holds(self, link: Link, side: Side) -> bool:
        """The record of `link` on `side` (read in this round) holds its snapshot image."""
        if self._changes is None:
            self._changes = {(c.ref.side, c.ref.id): c for c in self._given}
        record_id = link.hubspot_id if side is Side.HUBSPOT else link.salesforce_id
        change = self._changes.get((side, record_id))
        snapshot = link.snapshot
        if change is None or snapshot is None or change.deleted or change.converted_to:
            return False
        keys = self._keys.get(link.salesforce_type)
        if keys is None:
            fields = self.mapping.fields_for(link.salesforce_type)
            keys = self._keys[link.salesforce_type] = frozenset(spec.key for spec in fields)
        image = snapshot.of(side)
        for key, value in change.values.items():
            if key in keys and (key not in image or image[key] != value):
                return False
        return True


def holding_snapshot(
    mapping: PairMapping, links: Iterable[Link], changes: Iterable[Change]
) -> set[tuple[Side, str]]:
    """(side, id) of the records among `changes` that hold their snapshot image."""
    check = SnapshotCheck(mapping, changes)
    out: set[tuple[Side, str]] = set()
    for link in links:
        for side, record_id in (
            (Side.HUBSPOT, link.hubspot_id),
            (Side.SALESFORCE, link.salesforce_id),
        ):
            if check.holds(link, side):
                out.add((side, record_id))
    return out


async def read_twins(
    ctx: SyncContext,
    mapping: PairMapping,
    exhausted: Mapping[Side, bool],
    links: Iterable[Link],
    hs: Sequence[RemoteRecord],
    sf: Sequence[RemoteRecord],
    *,
    check: SnapshotCheck | None = None,
) -> dict[Side, list[RemoteRecord]]:
    """Current values of linked twins missing from the round, where the plan needs them: when
    the twin's side was not read to the end (`exhausted` says which were), or the link was
    never synced (no snapshot). A record that `check` finds holding its snapshot image needs
    no twin."""
    have_hs = {r.id for r in hs}
    have_sf = {r.id for r in sf}
    need_hs: list[str] = []
    need_sf: dict[str, list[str]] = {}

    def needs_twin(link: Link, side: Side) -> bool:
        """The record of `side` in the round needs its twin on the other side read."""
        if link.snapshot is None:
            return True
        if exhausted[side.other]:
            return False
        return check is None or not check.holds(link, side)

    for link in links:
        in_hs, in_sf = link.hubspot_id in have_hs, link.salesforce_id in have_sf
        if in_hs and not in_sf and needs_twin(link, Side.HUBSPOT):
            need_sf.setdefault(link.salesforce_type, []).append(link.salesforce_id)
        if in_sf and not in_hs and needs_twin(link, Side.SALESFORCE):
            need_hs.append(link.hubspot_id)
    out: dict[Side, list[RemoteRecord]] = {Side.HUBSPOT: [], Side.SALESFORCE: []}
    if need_hs:
        kind = mapping.hubspot_type
        found = await ctx.hubspot.read(kind, need_hs, read_fields(mapping, Side.HUBSPOT, kind))
        out[Side.HUBSPOT] = list({r.id: r for r in found.values()}.values())
    for kind, ids in need_sf.items():
        found = await ctx.salesforce.read(kind, ids, read_fields(mapping, Side.SALESFORCE, kind))
        out[Side.SALESFORCE] += list({r.id: r for r in found.values()}.values())
    return out


async def read_associations(
    ctx: SyncContext, mapping: PairMapping, records: Sequence[RemoteRecord], links: dict[str, Link]
) -> None:
    """Fill `assoc:<type>` on HubSpot records whose Salesforce twin has the lookup field
    (one v4 batch read per 100 records); the lowest associated id stands for the lookup."""
    for spec in mapping.fields:
        if not spec.association or spec.rule is Rule.DONT_SYNC:
            continue
        wanted: list[RemoteRecord] = []
        for record in records:
            link = links.get(record.id)
            sf_type = link.salesforce_type if link is not None else mapping.create_as
            if sf_type is not None and spec.applies_to(sf_type) and not record.deleted:
                wanted.append(record)
        if not wanted:
            continue
        to_type = spec.key[len(ASSOCIATION_PREFIX) :]
        found = await ctx.hubspot.read_associations(
            mapping.hubspot_type, to_type, [r.id for r in wanted]
        )
        for record in wanted:
            targets = sorted((a.to_id for a in found.get(record.id, ())), key=lambda i: (len(i), i))
            record.values[spec.key] = targets[0] if targets else None


def conflicts_without_stamps(plan: Plan, hubspot: Sequence[Change]) -> set[str]:
    """HubSpot ids whose two-way conflicts were decided without that property's own change
    time (only the record's last-modified time was known)."""
    by_id = {change.ref.id: change for change in hubspot}
    stale: set[str] = set()
    for record in plan.records:
        if record.hubspot is None or not record.conflicts:
            continue
        change = by_id.get(record.hubspot.id)
        if change is None:
            continue
        for conflict in record.conflicts:
            if (
                conflict.rule is Rule.TWO_WAY
                and conflict.kind == "conflict"
                and conflict.field not in change.field_modified_at
                and not conflict.field.startswith(ASSOCIATION_PREFIX)
            ):
                stale.add(record.hubspot.id)
    return stale


async def with_history(
    ctx: SyncContext, mapping: PairMapping, records: list[RemoteRecord], ids: set[str]
) -> list[RemoteRecord]:
    """`records` with those in `ids` re-read with per-property history (association values
    read earlier are carried over)."""
    kind = mapping.hubspot_type
    fields = [
        spec.hubspot
        for spec in mapping.fields_for(kind)
        if not spec.association and spec.rule is Rule.TWO_WAY
    ]
    wanted = read_fields(mapping, Side.HUBSPOT, kind)
    fresh = await ctx.hubspot.read(kind, sorted(ids), wanted, with_history=True)
    out: list[RemoteRecord] = []
    for record in records:
        again = fresh.get(record.id)
        if again is None or again.id != record.id:
            out.append(record)
            continue
        for key, value in record.values.items():
            if key.startswith(ASSOCIATION_PREFIX):
                again.values[key] = value
        again.field_modified_at = {
            name: stamp for name, stamp in again.field_modified_at.items() if name in fields
        }
        out.append(again)
    return out
