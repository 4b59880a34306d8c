"""The planner: a pure function from changes, links and snapshots to operations.

Field-level: a side changed a field when its canonical value differs from that side's image in
the snapshot. One side changed: the field's rule decides whether the change propagates or is
overridden. Both changed to different values: the rule decides (two_way: newest timestamp wins;
a tie goes to Salesforce). The new snapshot is what both sides hold once the plan is applied, so
planning again with the records as written yields no operation (no echo).
"""

from __future__ import annotations

from collections.abc import Iterable

from hubforce.sync.fields import PairMapping
from hubforce.sync.model import Change, Link
from hubforce.sync.operations import Plan


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
    raise NotImplementedError
