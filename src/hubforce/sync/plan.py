"""The planner: a pure function from changes, links and snapshots to operations.

Field-level: a side changed a field when its canonical value differs from that side's image in
the snapshot. One side changed: the field's rule decides whether the change propagates or is
overridden. Both changed to different values: the rule decides (two_way: newest timestamp wins;
a tie goes to Salesforce). The new snapshot is what both sides hold once the plan is applied, so
planning again with the records as written yields no operation (no echo).

The inclusion filter gates creates in Salesforce only: a record that is already linked keeps
syncing, as a link is a promise that the two records are one.
"""

from __future__ import annotations

from collections.abc import Iterable

from hubforce.sync.fields import FieldSpec, PairMapping
from hubforce.sync.mapping import fit
from hubforce.sync.model import (
    CanonicalValue,
    Change,
    Conflict,
    DeletePolicy,
    FieldValues,
    Link,
    RecordRef,
    Side,
    Snapshot,
)
from hubforce.sync.operations import Create, Delete, LinkOnly, Plan, RecordPlan, Unlink, Update
from hubforce.sync.rules import UNKNOWN, Current, decide

HUBSPOT = Side.HUBSPOT
SALESFORCE = Side.SALESFORCE
_EMPTY: FieldValues = {}


def plan_changes(mapping: PairMapping, changes: Iterable[Change], links: Iterable[Link]) -> Plan:
    """Plan the operations for one object pair.

    `changes` are the records read from either side (canonical, via `mapping.to_change`);
    when a side changed the same record twice in the batch the newest read wins. `links` are
    the links known for those records: stored links with their snapshots, plus links just made
    by matching (snapshot None), for which the matched record on the other side must be in
    `changes` too. A linked record whose other side is not in `changes` is assumed unchanged
    there, i.e. to hold its snapshot image.

    Per record the answer is a `RecordPlan`: creates (unlinked and included HubSpot records
    become `mapping.create_as`, unlinked Salesforce records become HubSpot records when
    `mapping.create_in_hubspot`), updates carrying only the fields that change on that side,
    link-only operations (matched and already equal, or a snapshot refresh), deletes/unlinks per
    `mapping.delete_policy`, the conflicts and overrides with the rule that decided, and the
    snapshot to store afterwards (`RecordPlan.snapshot_after` for partial failure).
    Pure: no I/O, no clock; deterministic for the same inputs.
    """
    by_hubspot: dict[str, Link] = {}
    by_salesforce: dict[str, Link] = {}
    for link in links:
        by_hubspot[link.hubspot_id] = link
        by_salesforce[link.salesforce_id] = link
    # Group the changes per record pair, in order of first appearance.
    groups: dict[tuple[str, str], list[Change | None]] = {}
    group_links: dict[tuple[str, str], Link] = {}
    for change in changes:
        ref = change.ref
        if ref.side is HUBSPOT:
            slot, link_or_none = 0, by_hubspot.get(ref.id)
        else:
            slot, link_or_none = 1, by_salesforce.get(ref.id)
        if link_or_none is not None:
            key = ("link", link_or_none.hubspot_id)
            group_links[key] = link_or_none
        else:
            key = (ref.side.value, ref.id)
        group = groups.get(key)
        if group is None:
            group = groups[key] = [None, None]
        current = group[slot]
        if current is None or change.modified_at >= current.modified_at:
            group[slot] = change
    planner = _Planner(mapping)
    plan = Plan(mapping.name)
    records = plan.records
    for key, (hubspot, salesforce) in groups.items():
        known = group_links.get(key)
        if known is not None:
            records.append(planner.linked(known, hubspot, salesforce))
        elif hubspot is not None:
            records.append(planner.create_in_salesforce(hubspot))
        elif salesforce is not None:
            records.append(planner.create_in_hubspot(salesforce))
    return plan


class _Planner:
    """Per-call state: the mapping and its fields per object type, looked up once."""

    __slots__ = ("_fields", "mapping")

    def __init__(self, mapping: PairMapping) -> None:
        self.mapping = mapping
        self._fields: dict[str, tuple[FieldSpec, ...]] = {}

    def fields(self, object_type: str) -> tuple[FieldSpec, ...]:
        found = self._fields.get(object_type)
        if found is None:
            found = self._fields[object_type] = self.mapping.fields_for(object_type)
        return found

    def linked(self, link: Link, hs: Change | None, sf: Change | None) -> RecordPlan:
        """Plan one linked record pair."""
        mapping = self.mapping
        hs_type = mapping.hubspot_type
        sf_type = link.salesforce_type
        hs_ref = RecordRef(HUBSPOT, hs_type, link.hubspot_id)
        sf_ref = RecordRef(SALESFORCE, sf_type, link.salesforce_id)
        record = RecordPlan(mapping.name, hs_ref, sf_ref, previous=link.snapshot)
        if (hs is not None and hs.deleted) or (sf is not None and sf.deleted):
            return self._deleted(record, hs, sf, hs_ref, sf_ref)
        if sf is not None and sf.converted_to is not None:
            record.skipped = f"Lead converted to {sf.converted_to.id}: relink before syncing"
            return record
        snapshot = link.snapshot
        base_hs = snapshot.hubspot if snapshot is not None else _EMPTY
        base_sf = snapshot.salesforce if snapshot is not None else _EMPTY
        new_hs = dict(base_hs)
        new_sf = dict(base_sf)
        hs_values = hs.values if hs is not None else _EMPTY
        sf_values = sf.values if sf is not None else _EMPTY
        hs_writes: FieldValues = {}
        hs_previous: FieldValues = {}
        sf_writes: FieldValues = {}
        sf_previous: FieldValues = {}
        # Only keys that differ from the snapshot on some side can need work.
        candidates: set[str] | None = None
        if snapshot is not None:
            candidates = {k for k, val in hs_values.items() if base_hs.get(k, UNKNOWN) != val}
            candidates.update(k for k, val in sf_values.items() if base_sf.get(k, UNKNOWN) != val)
            if not candidates:
                record.snapshot = snapshot
                return record  # nothing changed: the steady state costs no more than this
        for spec in self.fields(sf_type):
            key = spec.key
            if candidates is not None and key not in candidates:
                continue
            hc: Current
            sc: Current
            if key in hs_values:
                hc = hs_values[key]
                hs_changed = key not in base_hs or base_hs[key] != hc
            else:
                hc = base_hs.get(key, UNKNOWN)
                hs_changed = False
            if key in sf_values:
                sc = sf_values[key]
                sf_changed = key not in base_sf or base_sf[key] != sc
            else:
                sc = base_sf.get(key, UNKNOWN)
                sf_changed = False
            if not hs_changed and not sf_changed:
                continue
            if (
                hc is not UNKNOWN
                and sc is not UNKNOWN
                and (hc == sc or _equivalent(spec, hs_type, sf_type, hc, sc))
            ):
                new_hs[key] = hc
                new_sf[key] = sc
                continue
            decision = decide(
                spec.rule,
                hc,
                sc,
                hs_changed,
                sf_changed,
                hs.modified_at_of(key) if hs is not None else 0,
                sf.modified_at_of(key) if sf is not None else 0,
                first=key not in base_hs and key not in base_sf,
            )
            if decision is None:
                continue  # wait until the side the rule needs has been read
            winner, reason = decision
            value = hc if winner is HUBSPOT else sc
            if value is UNKNOWN:
                continue  # decide() never picks a side whose value is unknown
            hs_image, _ = fit(spec, HUBSPOT, hs_type, value)
            sf_image, note = fit(spec, SALESFORCE, sf_type, value)
            if hc is UNKNOWN or hc != hs_image:
                hs_writes[key] = hs_image
                hs_previous[key] = None if hc is UNKNOWN else hc
            if sc is UNKNOWN or sc != sf_image:
                sf_writes[key] = sf_image
                sf_previous[key] = None if sc is UNKNOWN else sc
                if note is not None:
                    record.notes.append(note)
            new_hs[key] = hs_image
            new_sf[key] = sf_image
            changed_side = HUBSPOT if hs_changed else SALESFORCE
            if hs_changed and sf_changed:
                kind = "conflict"
            elif changed_side is not winner:
                kind = "override"
            else:
                continue
            record.conflicts.append(
                Conflict(
                    field=key,
                    hubspot_value=None if hc is UNKNOWN else hc,
                    salesforce_value=None if sc is UNKNOWN else sc,
                    winner=winner,
                    rule=spec.rule,
                    kind=kind,
                    reason=reason,
                )
            )
        operations = record.operations
        if sf_writes:
            operations.append(Update(sf_ref, hs_ref, sf_writes, sf_previous))
        if hs_writes:
            operations.append(Update(hs_ref, sf_ref, hs_writes, hs_previous))
        new_snapshot = Snapshot(new_hs, new_sf)
        if not operations and (
            snapshot is None or new_hs != snapshot.hubspot or new_sf != snapshot.salesforce
        ):
            operations.append(LinkOnly(hs_ref, sf_ref))
        record.snapshot = new_snapshot
        return record

    def _deleted(
        self,
        record: RecordPlan,
        hs: Change | None,
        sf: Change | None,
        hs_ref: RecordRef,
        sf_ref: RecordRef,
    ) -> RecordPlan:
        policy = self.mapping.delete_policy
        hs_gone = hs is not None and hs.deleted
        sf_gone = sf is not None and sf.deleted
        if hs_gone and sf_gone:
            record.operations.append(Unlink(hs_ref, sf_ref))
        elif policy is DeletePolicy.IGNORE:
            gone = "HubSpot" if hs_gone else "Salesforce"
            record.skipped = f"deleted in {gone}; delete policy is ignore"
        elif policy is DeletePolicy.UNLINK:
            record.operations.append(Unlink(hs_ref, sf_ref))
        else:
            source, target = (hs_ref, sf_ref) if hs_gone else (sf_ref, hs_ref)
            record.operations.append(Delete(target, source))
            record.operations.append(Unlink(hs_ref, sf_ref))
        return record

    def create_in_salesforce(self, hs: Change) -> RecordPlan:
        """Plan an unlinked HubSpot record: create it in Salesforce if allowed."""
        mapping = self.mapping
        record = RecordPlan(mapping.name, hs.ref, None)
        target = mapping.create_as
        if hs.deleted:
            record.skipped = "deleted in HubSpot before it was linked"
        elif not hs.included:
            record.skipped = "excluded by the inclusion filter"
        elif target is None:
            record.skipped = "creating Salesforce records is off for this pair"
        else:
            create = Create(SALESFORCE, target, hs.ref, {}, assign=mapping.assign)
            self._fill(record, create, hs, HUBSPOT, target)
        return record

    def create_in_hubspot(self, sf: Change) -> RecordPlan:
        """Plan an unlinked Salesforce record: create it in HubSpot if allowed."""
        mapping = self.mapping
        record = RecordPlan(mapping.name, None, sf.ref)
        if sf.deleted:
            record.skipped = "deleted in Salesforce before it was linked"
        elif sf.converted_to is not None:
            record.skipped = f"Lead converted to {sf.converted_to.id}"
        elif not mapping.create_in_hubspot:
            record.skipped = "creating HubSpot records is off for this pair"
        else:
            create = Create(HUBSPOT, mapping.hubspot_type, sf.ref, {})
            self._fill(record, create, sf, SALESFORCE, sf.ref.object_type)
        return record

    def _fill(
        self, record: RecordPlan, create: Create, source: Change, side: Side, sf_type: str
    ) -> None:
        target_side = side.other
        target_type = create.object_type
        own: FieldValues = {}
        other: FieldValues = {}
        values = source.values
        for spec in self.fields(sf_type):
            key = spec.key
            if key in values:
                own[key] = values[key]
                image, note = fit(spec, target_side, target_type, values[key])
            else:
                image, note = fit(spec, target_side, target_type, None)
                if image is None:
                    continue
            other[key] = image
            if image is not None and image != ():
                create.values[key] = image
            if note is not None:
                record.notes.append(note)
        record.operations.append(create)
        if side is HUBSPOT:
            record.snapshot = Snapshot(own, other)
        else:
            record.snapshot = Snapshot(other, own)


def _equivalent(
    spec: FieldSpec, hs_type: str, sf_type: str, hc: CanonicalValue, sc: CanonicalValue
) -> bool:
    """True when one side holds exactly the other side's image (e.g. a cut text)."""
    return fit(spec, SALESFORCE, sf_type, hc)[0] == sc or fit(spec, HUBSPOT, hs_type, sc)[0] == hc
