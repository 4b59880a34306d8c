"""The owners pair: HubSpot owners <-> Salesforce Users, linked by e-mail, never written.

Owners are reference data: both lists are small and read whole (one call each), and the
links feed the owner-field conversions (`hubspot_owner_id` <-> `OwnerId`) of the other pairs.
"""

from __future__ import annotations

from hubforce.engine.context import PairReport, SyncContext
from hubforce.sync.fields import PairMapping
from hubforce.sync.match import normalise_email
from hubforce.sync.model import Link, Side, Snapshot


async def sync_owners(ctx: SyncContext, mapping: PairMapping) -> PairReport:
    """Link owners to active Users with the same e-mail; return what was done."""
    report = PairReport(mapping.name)
    owners = await ctx.hubspot.owners()
    users: dict[str, str] = {}
    statement = "SELECT Id, Email, IsActive FROM User WHERE IsActive = true ORDER BY Id"
    async for page in ctx.salesforce.query(statement):
        for row in page:
            email = normalise_email(row.get("Email"))
            if email is not None:
                users.setdefault(email, str(row["Id"]))
    report.read = {"hubspot:owners": len(owners), "salesforce:User": len(users)}
    wanted: list[Link] = []
    for owner in owners:
        email = normalise_email(owner.get("email"))
        user = users.get(email) if email else None
        if user is not None:
            snap = Snapshot({"email": email}, {"email": email})
            wanted.append(Link(mapping.name, str(owner["id"]), "User", user, snap))
    if ctx.options.dry_run or not wanted:
        report.matched = len(wanted)
        return report
    known_hs = ctx.store.links.get_many(mapping.name, Side.HUBSPOT, [w.hubspot_id for w in wanted])
    known_sf = ctx.store.links.get_many(
        mapping.name, Side.SALESFORCE, [w.salesforce_id for w in wanted]
    )
    fresh = [w for w in wanted if w.hubspot_id not in known_hs and w.salesforce_id not in known_sf]
    if fresh:
        ctx.store.links.upsert_many(fresh)
    report.matched = len(fresh)
    return report
