"""Seeding the org from the shared world (`common/world.py`), plus cheap synthetic Leads.

`POST /__emulator__/seed {"seed": 7, "people": 200, "companies": 60, "deals": 40, "reps": 5,
"extra_leads": 0}`: Users from the reps, Accounts from the companies present in Salesforce,
Leads/Contacts per `Person.salesforce_as` ("both" gives a Lead and a Contact sharing an email),
Opportunities from the deals, with `salesforce_overrides` applied. Same seed, same org. Records
are dated over the past 90 days so change tracking and SystemModstamp ordering have a history.
`extra_leads` adds N Leads built without Faker (100k in a few seconds) for benchmarks. An
optional `"now"` (ISO 8601, not after the emulator clock) dates the world from that moment
instead of the clock's, so that two seedings of the same world (a run and its reference) carry
the same relative stamps; seeded changes stay at least a whole second older than it
(`world.last_touch_ceiling`).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from hubforce.emulators.common.world import generate_world, last_touch_ceiling
from hubforce.emulators.salesforce.validation import complete_row
from hubforce.emulators.salesforce.values import parse_datetime, wire_datetime

if TYPE_CHECKING:
    from hubforce.emulators.salesforce.models import Org

_PERSON_FIELDS = {"title": "Title", "phone": "Phone", "email": "Email", "first_name": "FirstName"}
_FIRST = ["Ada", "Ben", "Cleo", "Dan", "Eve", "Finn", "Gia", "Hugo", "Iris", "Jon", "Kai", "Lena"]
_LAST = ["Stone", "Reed", "Hale", "Moss", "Lane", "Park", "Cole", "West", "Shaw", "Ford"]
_SEED_KEYS = {"seed", "people", "companies", "deals", "reps", "extra_leads", "now"}


def _int(params: dict[str, Any], key: str, default: int, maximum: int) -> int:
    value = params.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= maximum:
        raise ValueError(f"`{key}` must be an integer between 0 and {maximum}")
    return value


def _seed_now(org: Org, params: dict[str, Any]) -> datetime:
    """The moment the world is dated from: `now` if given (not after the clock), else the clock."""
    clock = org.clock.now()
    if "now" not in params:
        return clock
    raw = params["now"]
    try:
        if not isinstance(raw, str):
            raise ValueError(raw)
        moment = parse_datetime(raw)
    except ValueError:
        raise ValueError(
            f"`now` must be an ISO 8601 datetime such as '2026-03-02T09:00:00Z'; got {raw!r}"
        ) from None
    if moment > clock:
        raise ValueError(
            f"`now` ({raw}) is after the emulator clock ({wire_datetime(clock)}); "
            "seeded records cannot be dated in the future"
        )
    return moment


def seed_org(org: Org, params: dict[str, Any]) -> dict[str, Any]:
    """Create the world's Salesforce side (and any extra Leads); return what was created."""
    unknown = set(params) - _SEED_KEYS
    if unknown:
        raise ValueError(f"unknown seed parameters: {', '.join(sorted(unknown))}")
    seed = _int(params, "seed", 7, 2**31)
    counts = {
        "people": _int(params, "people", 200, 50_000),
        "companies": _int(params, "companies", 60, 10_000),
        "deals": _int(params, "deals", 40, 10_000),
        "reps": _int(params, "reps", 5, 500),
    }
    extra = _int(params, "extra_leads", 0, 1_000_000)
    created = {"User": 0, "Account": 0, "Lead": 0, "Contact": 0, "Opportunity": 0}
    rng = random.Random(seed)
    ceiling = last_touch_ceiling(_seed_now(org, params))

    def stamp() -> dict[str, str]:
        born = ceiling - timedelta(seconds=rng.randrange(3600, 90 * 86400))
        touched = min(ceiling, born + timedelta(seconds=rng.randrange(0, 20 * 86400)))
        return {"CreatedDate": wire_datetime(born), "LastModifiedDate": wire_datetime(touched)}

    if any(counts.values()):
        world = generate_world(seed, **counts)
        owners: list[str] = []
        for rep in world.reps:
            alias = (rep.first_name[:1] + rep.last_name[:4]).lower()
            values: dict[str, Any] = {
                "Username": rep.email,
                "Email": rep.email,
                "FirstName": rep.first_name,
            }
            values.update(LastName=rep.last_name, Alias=alias, IsActive=True, UserType="Standard")
            values["Title"] = "Account Executive"
            owners.append(org.insert_row("User", values))
            created["User"] += 1
        owners = owners or [org.integration_user_id]
        accounts: dict[int, str] = {}
        has_domain = org.sobject("Account").find_field("Domain__c") is not None
        for c in world.companies:
            if not c.in_salesforce:
                continue
            values = {
                "Name": c.name,
                "Website": f"https://www.{c.domain}",
                "Industry": c.industry,
                "Phone": c.phone,
                "BillingCity": c.city,
                "BillingState": c.state,
                "BillingCountry": c.country,
                "NumberOfEmployees": c.employees,
                "AnnualRevenue": c.annual_revenue,
                "OwnerId": owners[c.key % len(owners)],
                **stamp(),
            }
            if has_domain:
                values["Domain__c"] = c.domain
            accounts[c.key] = org.insert_row("Account", values)
            created["Account"] += 1
        companies = {c.key: c for c in world.companies}
        contacts: dict[int, str] = {}
        for p in world.people:
            if p.salesforce_as is None:
                continue
            base: dict[str, Any] = {
                "FirstName": p.first_name,
                "LastName": p.last_name,
                "Email": p.email,
                "Phone": p.phone,
                "Title": p.title,
                "LeadSource": p.lead_source,
                "OwnerId": owners[p.key % len(owners)],
            }
            for key, value in p.salesforce_overrides.items():
                base[_PERSON_FIELDS.get(key, key)] = value
            company = companies.get(p.company_key) if p.company_key is not None else None
            if p.salesforce_as in ("Lead", "both"):
                lead = {**base, "City": p.city, "State": p.state, "Country": p.country}
                lead.update(Company=company.name if company else f"{p.last_name} Household")
                lead.update(Status=p.lead_status, **stamp())
                org.insert_row("Lead", lead)
                created["Lead"] += 1
            if p.salesforce_as in ("Contact", "both"):
                contact = {**base, "MailingCity": p.city, "MailingState": p.state}
                contact.update(MailingCountry=p.country, **stamp())
                if p.company_key is not None and p.company_key in accounts:
                    contact["AccountId"] = accounts[p.company_key]
                contacts[p.key] = org.insert_row("Contact", contact)
                created["Contact"] += 1
        for d in world.deals:
            if not d.in_salesforce or d.company_key not in accounts:
                continue
            stage, _, _probability = d.stage
            values = {
                "Name": d.name,
                "AccountId": accounts[d.company_key],
                "Amount": d.amount,
                "CloseDate": d.close_date.isoformat(),
                "StageName": stage,
                "OwnerId": owners[d.key % len(owners)],
                **stamp(),
            }
            if d.contact_key is not None and d.contact_key in contacts:
                values["ContactId"] = contacts[d.contact_key]
            rid = org.insert_row("Opportunity", values)
            row = org.records["Opportunity"][rid]
            complete_row(org.sobject("Opportunity"), row)
            org.resync("Opportunity", rid)  # the stage's derived fields changed in place
            created["Opportunity"] += 1
    if extra:
        created["Lead"] += add_synthetic_leads(org, extra, seed)
    return {"seed": seed, "created": created}


def add_synthetic_leads(org: Org, count: int, seed: int) -> int:
    """Append `count` Leads cheaply (no Faker, no rules), dated over the past 30 days."""
    obj = org.sobject("Lead")
    template: dict[str, Any] = dict.fromkeys(obj.fields)
    for f in obj.fields.values():
        if f.type == "boolean":
            template[f.name] = False
    template.update(Status="Open - Not Contacted", Country="United States", LeadSource="Web")
    owners = [u["Id"] for u in org.active_users()] or [org.integration_user_id]
    user = org.integration_user_id
    rows = org.records["Lead"]
    start = org.clock.now() - timedelta(days=30)
    step = (30 * 86400) / max(count, 1)
    rng = random.Random(seed)
    base = len(rows)
    for n in range(count):
        rid = org.new_id("Lead")
        when = wire_datetime(start + timedelta(seconds=n * step))
        first, last = _FIRST[rng.randrange(len(_FIRST))], _LAST[rng.randrange(len(_LAST))]
        row = template.copy()
        row.update(
            Id=rid,
            FirstName=first,
            LastName=last,
            Name=f"{first} {last}",
            Email=f"{first}.{last}.{base + n}@bulk{n % 997}.example".lower(),
            Company=f"Bulk Company {n % 5003}",
            OwnerId=owners[n % len(owners)],
            CreatedDate=when,
            CreatedById=user,
            LastModifiedDate=when,
            LastModifiedById=user,
            SystemModstamp=when,
        )
        rows[rid] = row
        org.index_row("Lead", row)
    return count
