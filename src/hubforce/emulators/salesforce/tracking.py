"""Change tracking: sObject Get Updated (30-day window) and Get Deleted (15-day window)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from hubforce.emulators.salesforce.exceptions import ExceededIdLimit, InvalidReplicationDate
from hubforce.emulators.salesforce.values import parse_datetime, wire_datetime

if TYPE_CHECKING:
    from hubforce.emulators.salesforce.models import Org

UPDATED_DAYS = 30
DELETED_DAYS = 15
MAX_IDS = 600_000


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def _window(org: Org, start: str, end: str, days: int) -> tuple[str, str]:
    """(start, latestDateCovered) as wire strings, after Salesforce's checks."""
    try:
        begin, finish = _minute(parse_datetime(start)), _minute(parse_datetime(end))
    except ValueError as exc:
        raise InvalidReplicationDate(f"invalid date: {start if start else end}") from exc
    now = _minute(org.clock.now())
    if begin >= finish:
        raise InvalidReplicationDate("startDate must chronologically precede endDate")
    if begin < now - timedelta(days=days):
        raise InvalidReplicationDate(f"startDate cannot be more than {days} days ago")
    return wire_datetime(begin), wire_datetime(min(finish, now))


def _check_size(count: int) -> None:
    if count > MAX_IDS:
        raise ExceededIdLimit(
            f"The number of ids in the result ({count}) exceeds {MAX_IDS}; use a smaller window"
        )


def get_updated(org: Org, sobject: str, start: str, end: str) -> dict[str, Any]:
    """Ids of live records whose SystemModstamp is in [start, latestDateCovered)."""
    lo, hi = _window(org, start, end, UPDATED_DAYS)
    ids = [
        rid
        for rid, row in org.records[sobject].items()
        if not row["IsDeleted"] and lo <= row["SystemModstamp"] < hi
    ]
    _check_size(len(ids))
    return {"ids": ids, "latestDateCovered": hi}


def get_deleted(org: Org, sobject: str, start: str, end: str) -> dict[str, Any]:
    """Records deleted in [start, latestDateCovered) and still in the recycle bin."""
    lo, hi = _window(org, start, end, DELETED_DAYS)
    rows = org.records[sobject]
    deleted = [
        {"id": rid, "deletedDate": when}
        for name, rid, when in org.deleted_log
        if name == sobject and lo <= when < hi and rows.get(rid, {}).get("IsDeleted")
    ]
    _check_size(len(deleted))
    floor = org.clock.now() - timedelta(days=DELETED_DAYS)
    earliest = _minute(max(org.created_at, floor))
    return {
        "deletedRecords": deleted,
        "earliestDateAvailable": wire_datetime(earliest),
        "latestDateCovered": hi,
    }
