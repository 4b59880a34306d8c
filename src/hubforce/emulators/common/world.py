"""One deterministic fictional market that both emulators seed from.

Seeding the Salesforce org and the HubSpot portal from the same seed gives the same people and
companies on both sides (some with different field values, some on one side only), so that a
sync has real matching, conflicts and creations to do. Which records each side gets, and which
fields differ, is decided here too, so the overlap is the same whatever order seeding runs in.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from faker import Faker

INDUSTRIES = (
    "Technology",
    "Finance",
    "Healthcare",
    "Manufacturing",
    "Retail",
    "Education",
    "Energy",
    "Consulting",
)
LEAD_STATUSES = ("Open - Not Contacted", "Working - Contacted", "Closed - Not Converted")
LEAD_SOURCES = ("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other")
TITLES = (
    "CEO",
    "CTO",
    "VP Sales",
    "Head of Marketing",
    "Sales Manager",
    "Account Executive",
    "Operations Manager",
    "Engineer",
    "Analyst",
    "Director of RevOps",
)
DEAL_STAGES = (  # (Salesforce StageName, HubSpot dealstage, probability)
    ("Prospecting", "appointmentscheduled", 10),
    ("Qualification", "qualifiedtobuy", 20),
    ("Needs Analysis", "presentationscheduled", 40),
    ("Proposal/Price Quote", "decisionmakerboughtin", 60),
    ("Negotiation/Review", "contractsent", 80),
    ("Closed Won", "closedwon", 100),
    ("Closed Lost", "closedlost", 0),
)


def last_touch_ceiling(now: datetime) -> datetime:
    """The latest stamp a seeded Salesforce record may carry: the whole second before `now`'s.

    HubSpot's seed stamps its records with its clock in milliseconds, Salesforce writes whole
    seconds. Capping Salesforce's seeded stamps a whole second below the seed's moment keeps
    every seeded Salesforce change older than the HubSpot one of the same person, whether the
    two seed calls share a second or straddle a boundary, so a seeded conflict always resolves
    the same way (a record "touched now" on both sides would otherwise be a coin toss).
    """
    return now.replace(microsecond=0) - timedelta(seconds=1)


@dataclass(frozen=True)
class Company:
    """A company that may exist as a HubSpot company and/or a Salesforce Account."""

    key: int
    name: str
    domain: str
    industry: str
    phone: str
    city: str
    state: str
    country: str
    employees: int
    annual_revenue: int
    in_hubspot: bool
    in_salesforce: bool


@dataclass(frozen=True)
class Person:
    """A person who may be a HubSpot contact and a Salesforce Lead or Contact."""

    key: int
    first_name: str
    last_name: str
    email: str
    phone: str
    title: str
    company_key: int | None
    city: str
    state: str
    country: str
    lead_source: str
    lead_status: str
    in_hubspot: bool
    salesforce_as: str | None  # "Lead", "Contact", "both" (a Lead and a Contact share the email)
    # Values that differ between the sides, to make conflicts: side -> field -> value.
    hubspot_overrides: dict[str, str] = field(default_factory=dict)
    salesforce_overrides: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Deal:
    """A deal that may exist as a HubSpot deal and/or a Salesforce Opportunity."""

    key: int
    name: str
    company_key: int
    contact_key: int | None
    amount: int
    close_date: date
    stage: tuple[str, str, int]
    in_hubspot: bool
    in_salesforce: bool


@dataclass(frozen=True)
class SalesRep:
    """A user in Salesforce and an owner in HubSpot (same email)."""

    key: int
    first_name: str
    last_name: str
    email: str


@dataclass(frozen=True)
class World:
    """Everything generated from one seed."""

    seed: int
    reps: list[SalesRep]
    companies: list[Company]
    people: list[Person]
    deals: list[Deal]


def _presence(rng: random.Random) -> tuple[bool, bool]:
    roll = rng.random()
    if roll < 0.55:
        return True, True  # on both sides: matching work
    if roll < 0.80:
        return True, False  # HubSpot only: creations in Salesforce
    return False, True  # Salesforce only: creations in HubSpot


def generate_world(
    seed: int, *, people: int = 200, companies: int = 60, deals: int = 40, reps: int = 5
) -> World:
    """Generate the shared market for `seed`; same arguments, same world."""
    rng = random.Random(seed)
    fake = Faker("en_US")
    fake.seed_instance(seed)
    sales_reps = [
        SalesRep(
            key=i,
            first_name=(first := fake.first_name()),
            last_name=(last := fake.last_name()),
            email=f"{first}.{last}@hubforce-sales.example".lower(),
        )
        for i in range(reps)
    ]
    used_domains: set[str] = set()
    company_list: list[Company] = []
    for i in range(companies):
        name = fake.unique.company()
        stem = "".join(ch for ch in name.lower() if ch.isalnum())[:24] or f"company{i}"
        domain = f"{stem}.example"
        while domain in used_domains:
            domain = f"{stem}{rng.randint(2, 99)}.example"
        used_domains.add(domain)
        in_hs, in_sf = _presence(rng)
        company_list.append(
            Company(
                key=i,
                name=name,
                domain=domain,
                industry=rng.choice(INDUSTRIES),
                phone=fake.numerify("+1 ###-###-####"),
                city=fake.city(),
                state=fake.state_abbr(),
                country="United States",
                employees=rng.choice((5, 12, 40, 120, 350, 900, 2500, 12000)),
                annual_revenue=rng.randrange(200_000, 90_000_000, 10_000),
                in_hubspot=in_hs,
                in_salesforce=in_sf,
            )
        )
    used_emails: set[str] = set()
    person_list: list[Person] = []
    for i in range(people):
        first, last = fake.first_name(), fake.last_name()
        company = rng.choice(company_list) if rng.random() < 0.9 else None
        domain = company.domain if company else rng.choice(("gmail.example", "outlook.example"))
        email = f"{first}.{last}@{domain}".lower().replace("'", "")
        while email in used_emails:
            email = f"{first}.{last}{rng.randint(2, 999)}@{domain}".lower().replace("'", "")
        used_emails.add(email)
        in_hs, in_sf = _presence(rng)
        salesforce_as: str | None = None
        if in_sf:
            roll = rng.random()
            salesforce_as = "Lead" if roll < 0.6 else ("Contact" if roll < 0.93 else "both")
        hs_over: dict[str, str] = {}
        sf_over: dict[str, str] = {}
        if in_hs and in_sf and rng.random() < 0.3:  # the same person, edited differently
            hs_over["phone"] = fake.numerify("+1 ###-###-####")
            sf_over["title"] = rng.choice(TITLES)
        person_list.append(
            Person(
                key=i,
                first_name=first,
                last_name=last,
                email=email,
                phone=fake.numerify("+1 ###-###-####"),
                title=rng.choice(TITLES),
                company_key=company.key if company else None,
                city=company.city if company else fake.city(),
                state=company.state if company else fake.state_abbr(),
                country="United States",
                lead_source=rng.choice(LEAD_SOURCES),
                lead_status=rng.choice(LEAD_STATUSES),
                in_hubspot=in_hs,
                salesforce_as=salesforce_as,
                hubspot_overrides=hs_over,
                salesforce_overrides=sf_over,
            )
        )
    deal_list: list[Deal] = []
    for i in range(deals):
        company = rng.choice(company_list)
        contacts = [p for p in person_list if p.company_key == company.key]
        in_hs, in_sf = _presence(rng)
        deal_list.append(
            Deal(
                key=i,
                name=f"{company.name} - {rng.choice(('Renewal', 'Expansion', 'New Business'))}",
                company_key=company.key,
                contact_key=rng.choice(contacts).key if contacts else None,
                amount=rng.randrange(1_000, 250_000, 500),
                close_date=date(2026, 1, 1).fromordinal(
                    date(2026, 1, 1).toordinal() + rng.randrange(0, 365)
                ),
                stage=rng.choice(DEAL_STAGES),
                in_hubspot=in_hs and company.in_hubspot,
                in_salesforce=in_sf and company.in_salesforce,
            )
        )
    return World(
        seed=seed, reps=sales_reps, companies=company_list, people=person_list, deals=deal_list
    )
