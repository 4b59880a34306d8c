"""Seeded timestamps: which side of a seeded conflict is newer must not depend on the moment.

The e2e harness seeds HubSpot then Salesforce; HubSpot stamps its records with its clock in
milliseconds and Salesforce writes whole seconds. Both seed calls may fall in one second or
straddle a second boundary; the newer side of every person present on both must be the same
either way, or a run and its fault-free reference can resolve a conflict differently.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hubforce.emulators.common.clock import EmulatorClock
from hubforce.emulators.hubspot.models import Portal
from hubforce.emulators.salesforce.models import Org
from hubforce.emulators.salesforce.values import parse_datetime

SECOND = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)
WORLD = {"seed": 11, "people": 60, "companies": 10, "deals": 0}


def _seeded(hs_at: datetime, sf_at: datetime, **extra: object) -> tuple[Portal, Org]:
    portal = Portal()
    portal.clock = EmulatorClock(hs_at, frozen=True)
    portal.seed(dict(WORLD))
    org = Org(clock=EmulatorClock(sf_at, frozen=True))
    org.seed({**WORLD, **extra})
    return portal, org


def _sf_newer(portal: Portal, org: Org) -> dict[str, bool]:
    """Per e-mail on both sides: is a Salesforce record's last change newer than HubSpot's?"""
    hubspot = {
        r.properties["email"]: r.updated_ms for r in portal.stores["contacts"].records.values()
    }
    out: dict[str, bool] = {}
    for sobject in ("Lead", "Contact"):
        for row in org.records[sobject].values():
            email = row["Email"]
            if email in hubspot:
                ms = int(parse_datetime(row["LastModifiedDate"]).timestamp() * 1000)
                out[email] = out.get(email, False) or ms > hubspot[email]
    return out


def test_seeded_salesforce_stamps_are_older_than_hubspot_even_across_a_second_boundary() -> None:
    # HubSpot seeds at .999 of one second, Salesforce 2 ms later, in the next second.
    portal, org = _seeded(SECOND + timedelta(milliseconds=999), SECOND + timedelta(seconds=1.001))
    newer = _sf_newer(portal, org)
    assert len(newer) > 10  # the world has people on both sides to compare
    assert not any(newer.values()), sorted(e for e, n in newer.items() if n)


def test_the_newer_side_is_the_same_whether_the_seeds_share_a_second_or_straddle_one() -> None:
    same = _sf_newer(
        *_seeded(SECOND + timedelta(milliseconds=200), SECOND.replace(microsecond=300_000))
    )
    straddled = _sf_newer(
        *_seeded(SECOND + timedelta(milliseconds=999), SECOND + timedelta(seconds=1.001))
    )
    assert same == straddled


def _stamps(org: Org) -> list[tuple[str, datetime, datetime]]:
    rows = [
        row for sobject in ("Account", "Lead", "Contact") for row in org.records[sobject].values()
    ]
    return sorted(
        (
            str(row["Name"]),
            parse_datetime(row["CreatedDate"]),
            parse_datetime(row["LastModifiedDate"]),
        )
        for row in rows
    )


def test_a_given_now_dates_the_world_from_it_with_the_same_relative_stamps() -> None:
    late = SECOND + timedelta(days=3, seconds=7.5)
    first = Org(clock=EmulatorClock(late, frozen=True))
    first.seed({**WORLD, "now": "2026-03-02T09:00:00.250Z"})
    second = Org(clock=EmulatorClock(late, frozen=True))
    second.seed({**WORLD, "now": "2026-03-03T10:30:05.990+00:00"})
    shift = timedelta(days=1, hours=1, minutes=30, seconds=5)
    a, b = _stamps(first), _stamps(second)
    assert len(a) > 20
    assert [(n, c + shift, m + shift) for n, c, m in a] == b
    # every seeded change is at least a whole second before the given moment
    assert max(m for _, _, m in a) <= SECOND - timedelta(seconds=1)


@pytest.mark.parametrize(
    ("now", "words"),
    [
        ("2026-03-09T00:00:00Z", "after the emulator clock"),
        ("yesterday", "ISO 8601"),
        (1_700_000_000, "ISO 8601"),
    ],
)
def test_a_bad_now_is_refused_with_the_reason(now: object, words: str) -> None:
    org = Org(clock=EmulatorClock(SECOND, frozen=True))
    with pytest.raises(ValueError, match=words):
        org.seed({**WORLD, "now": now})
