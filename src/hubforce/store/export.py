"""CSV export of record failures (`hubforce errors --export errors.csv`)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hubforce.store.failures import StoredFailure

CSV_COLUMNS = (
    "pair",
    "side",
    "operation",
    "category",
    "api_code",
    "message",
    "remediation",
    "hubspot_id",
    "salesforce_type",
    "salesforce_id",
    "fields",
    "first_seen",
    "last_seen",
    "attempts",
    "retryable",
    "resolved_at",
)


def _iso(ms: int | None) -> str:
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")


def _cell(value: object) -> object:
    # A cell starting with = + - @ is a formula to spreadsheets; API messages are untrusted.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def write_csv(rows: Sequence[StoredFailure], path: str | Path) -> None:
    """Write one CSV line per failure, with a header; cells are safe to open in a spreadsheet."""
    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for f in rows:
            writer.writerow(
                _cell(value)
                for value in (
                    f.pair,
                    f.side.value,
                    f.operation,
                    f.category,
                    f.api_code or "",
                    f.message,
                    f.remediation,
                    f.hubspot_id or "",
                    f.salesforce_type or "",
                    f.salesforce_id or "",
                    ";".join(f.fields),
                    _iso(f.first_seen),
                    _iso(f.last_seen),
                    f.attempts,
                    "yes" if f.retryable else "no",
                    _iso(f.resolved_at),
                )
            )
