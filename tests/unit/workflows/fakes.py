"""Fakes shared by the workflow tests: Salesforce/HubSpot writers, a record reader, the
submissions API (newest first, offset paging of 50 like HubSpot's) and a cursor store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hubforce.connectors.records import RemoteRecord, WriteResult
from hubforce.errors import Category, RecordFailure
from hubforce.sync.model import Side
from hubforce.workflows.forms import Submission, SubmissionPage


class FakeSalesforce:
    def __init__(self, refuse: bool = False) -> None:
        self.created: list[tuple[str, dict[str, Any], bool | str | None]] = []
        self.updated: list[tuple[str, str, dict[str, Any], bool | str | None]] = []
        self.refuse = refuse

    async def create(
        self,
        sobject: str,
        records: Sequence[Mapping[str, Any]],
        *,
        auto_assign: bool | str | None = None,
    ) -> list[WriteResult]:
        if self.refuse:
            failure = RecordFailure.of(
                Category.REQUIRED_FIELD, "REQUIRED_FIELD_MISSING", "LastName"
            )
            return [WriteResult(0, False, None, failure=failure)]
        out = []
        for values in records:
            self.created.append((sobject, dict(values), auto_assign))
            out.append(WriteResult(0, True, f"00Q{len(self.created):015d}", created=True))
        return out

    async def update(
        self,
        sobject: str,
        updates: Sequence[tuple[str, Mapping[str, Any]]],
        *,
        auto_assign: bool | str | None = None,
    ) -> list[WriteResult]:
        self.updated += [(sobject, rid, dict(v), auto_assign) for rid, v in updates]
        return [WriteResult(i, True, rid) for i, (rid, _) in enumerate(updates)]

    async def find_by(
        self,
        sobject: str,
        field: str,
        values: Sequence[Any],
        fields: Sequence[str],
        *,
        where: str | None = None,
    ) -> list[RemoteRecord]:
        return [
            RemoteRecord(self.ids[i], dict(v), 0, sobject)
            for i, (s, v, _) in enumerate(self.created)
            if s == sobject and v.get(field) in values
        ]

    @property
    def ids(self) -> list[str]:
        return [f"00Q{n:015d}" for n in range(1, len(self.created) + 1)]


class FakeHubSpot:
    def __init__(self) -> None:
        self.updates: list[tuple[str, str, dict[str, Any]]] = []

    async def update(
        self, object_type: str, updates: Sequence[tuple[str, Mapping[str, Any]]]
    ) -> list[WriteResult]:
        self.updates += [(object_type, rid, dict(values)) for rid, values in updates]
        return [WriteResult(i, True, rid) for i, (rid, _) in enumerate(updates)]


class FakeReader:
    def __init__(self, records: dict[str, dict[str, Any]]) -> None:
        self.records = records
        self.reads: list[tuple[str, list[str]]] = []

    async def read_record(
        self, side: Side, object_type: str, record_id: str, fields: Sequence[str]
    ) -> dict[str, Any] | None:
        self.reads.append((record_id, list(fields)))
        record = self.records.get(record_id)
        return None if record is None else {k: record.get(k) for k in fields}


class FakeForms:
    """The submissions API of a portal (and its contacts by e-mail)."""

    def __init__(self, page_size: int = 50) -> None:
        self.items: dict[str, list[Submission]] = {}  # per form, oldest first
        self.contacts: dict[str, str] = {}  # e-mail -> contact id
        self.page_size = page_size
        self.reads: list[tuple[str, str | None]] = []
        self.fail: Exception | None = None

    def submit(self, form: str, email: str, at: int, contact: str | None = None) -> Submission:
        """Record a submission (and the contact it created or updated)."""
        submission = Submission(form, at, {"email": email}, f"conv-{form}-{email}-{at}")
        self.items.setdefault(form, []).append(submission)
        if contact is not None:
            self.contacts[email.lower()] = contact
        return submission

    async def submissions(self, form_guid: str, after: str | None = None) -> SubmissionPage:
        self.reads.append((form_guid, after))
        if self.fail is not None:
            raise self.fail
        newest = list(reversed(self.items.get(form_guid, [])))
        start = int(after or 0)
        end = start + self.page_size
        return SubmissionPage(newest[start:end], str(end) if end < len(newest) else None)

    async def contact_id(self, email: str) -> str | None:
        if self.fail is not None:
            raise self.fail
        return self.contacts.get(email)


class MemoryCursors:
    """CursorStore in a dict."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], str] = {}

    def get(self, pair: str, side: str) -> str | None:
        return self.values.get((pair, side))

    def set(self, pair: str, side: str, value: str) -> None:
        self.values[(pair, side)] = value
